namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// The domain type a connection defines guests with, chosen from the host's capabilities and the configured
/// preference, with the reason the agent logs at start. Shared by both ways of talking to libvirt.
/// </summary>
internal static class GuestChoice
{
    /// <param name="capabilitiesXml">virConnectGetCapabilities' answer.</param>
    /// <param name="kvmUsable">Whether libvirt offers usable KVM for an architecture (virConnectGetDomainCapabilities succeeds for "kvm").</param>
    /// <exception cref="LibvirtException">The host offers no guest for its architecture, or KVM was asked for and is not usable.</exception>
    public static (GuestCapabilities Guest, string Reason) Make(string capabilitiesXml, Func<string, bool> kvmUsable, DomainTypePreference preference, string uri)
    {
        GuestCapabilities guest;
        try
        {
            guest = GuestCapabilities.Choose(capabilitiesXml, arch => preference != DomainTypePreference.Qemu && kvmUsable(arch) &&
                (preference == DomainTypePreference.Kvm || !KvmRunsOnlyParavirtualGuests));
        }
        catch (FormatException e)
        {
            throw new LibvirtException($"{uri} cannot run guests: {e.Message}", e);
        }

        if (preference == DomainTypePreference.Kvm && guest.DomainType != "kvm")
        {
            throw new LibvirtException($"domain type kvm was asked for, but {uri} offers no usable KVM (is /dev/kvm there and accessible to libvirt?); use --domain-type auto or qemu");
        }

        var reason = guest.DomainType switch
        {
            "kvm" => preference == DomainTypePreference.Kvm ? "kvm as configured" : "hardware virtualization (KVM) is usable",
            "qemu" when preference == DomainTypePreference.Qemu => "software emulation (TCG) as configured",
            "qemu" when KvmRunsOnlyParavirtualGuests => "software emulation (TCG): this host's KVM is kvm_pvm, which runs only PVM-enabled guest kernels",
            "qemu" => "software emulation (TCG): libvirt offers no usable KVM on this host",
            var other => $"{other}, the only guest type {uri} offers",
        };
        return (guest, reason);
    }

    /// <summary>
    /// PVM (kvm_pvm) is a KVM flavour for running inside a cloud VM without nested virtualization; libvirt
    /// lists it as kvm, but ordinary guest kernels crawl or hang on it, so automatic choice passes it over.
    /// </summary>
    private static bool KvmRunsOnlyParavirtualGuests => Directory.Exists("/sys/module/kvm_pvm");
}
