namespace NodeAgent.Agent.Hypervisor;

/// <summary>Which libvirt domain type the agent defines guests with.</summary>
public enum DomainTypePreference
{
    /// <summary>KVM when the host's capabilities offer a usable KVM for ordinary guests, else QEMU's software emulation.</summary>
    Auto,

    /// <summary>KVM or nothing: the agent refuses to start without it.</summary>
    Kvm,

    /// <summary>Software emulation (TCG) even where KVM exists.</summary>
    Qemu,
}
