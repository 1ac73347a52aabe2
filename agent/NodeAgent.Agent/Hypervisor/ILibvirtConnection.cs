namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// One connection to libvirt, as the agent holds it: the hypervisor calls, what the host's capabilities chose,
/// and notice of the connection's loss (which <see cref="ResilientHypervisor"/> turns into a reconnect).
/// </summary>
public interface ILibvirtConnection : IHypervisor
{
    /// <summary>
    /// The machine type to define guests with: the versioned machine the host's default stands for
    /// (e.g. "pc-i440fx-7.2" for "pc"), from capabilities; "pc" when libvirt names none (test driver).
    /// </summary>
    string MachineType { get; }

    /// <summary>Why the domain type is what it is, for the agent's start-up log.</summary>
    string DomainTypeReason { get; }

    /// <summary>Calls <paramref name="handler"/> once, with the reason, when the connection is lost.</summary>
    IDisposable OnConnectionClosed(Action<string> handler);
}
