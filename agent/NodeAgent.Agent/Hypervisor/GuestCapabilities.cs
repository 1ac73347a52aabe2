using System.Xml;
using System.Xml.Linq;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// What kind of guest this host runs, read from libvirt's capabilities XML (virConnectGetCapabilities):
/// the host's own architecture, the best domain type for it and its default machine type.
/// </summary>
internal sealed record GuestCapabilities(string Architecture, string DomainType, string MachineType)
{
    public const string FallbackMachineType = "pc";

    /// <summary>
    /// Chooses from the guests libvirt offers for the host architecture: "kvm" when listed and
    /// <paramref name="kvmUsable"/> confirms it, else "qemu", else the first listed type (the test driver
    /// lists only "test"). Full-virtualization (hvm) guests are preferred over others such as xen.
    /// </summary>
    /// <exception cref="FormatException">The XML is not capabilities XML, or offers no guest for the host's architecture.</exception>
    public static GuestCapabilities Choose(string capabilitiesXml, Func<string, bool> kvmUsable)
    {
        XDocument document;
        try
        {
            document = XDocument.Parse(capabilitiesXml);
        }
        catch (XmlException e)
        {
            throw new FormatException($"libvirt's capabilities XML does not parse: {e.Message}", e);
        }

        var hostArch = document.Root?.Element("host")?.Element("cpu")?.Element("arch")?.Value.Trim();
        if (string.IsNullOrEmpty(hostArch))
        {
            throw new FormatException("libvirt's capabilities XML has no host/cpu/arch");
        }

        var guests = document.Root!.Elements("guest")
            .Select(g => (OsType: g.Element("os_type")?.Value.Trim(), Arch: g.Element("arch")))
            .Where(g => g.Arch?.Attribute("name")?.Value == hostArch)
            .OrderBy(g => g.OsType == "hvm" ? 0 : 1)
            .Select(g => g.Arch!)
            .ToList();
        var types = guests
            .SelectMany(a => a.Elements("domain"))
            .Select(d => d.Attribute("type")?.Value)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (types.Count == 0)
        {
            throw new FormatException($"libvirt offers no guest for the host architecture {hostArch}; install the emulator for it (e.g. qemu-system-x86 for x86_64) and restart libvirtd");
        }

        // libvirt lists kvm when /dev/kvm was usable at its last capability probe, which it caches; the caller
        // confirms with a fresh domain-capabilities query so a host that lost KVM falls back to emulation.
        var domainType = types.Contains("kvm") && kvmUsable(hostArch) ? "kvm"
            : types.Contains("qemu") ? "qemu"
            : types.FirstOrDefault(t => t != "kvm") ?? "kvm";
        return new GuestCapabilities(hostArch, domainType, MachineTypeOf(guests.FirstOrDefault()));
    }

    // Machine aliases such as "pc" carry the versioned machine they stand for in @canonical; defining with the
    // versioned name keeps a guest's virtual hardware fixed when QEMU is upgraded.
    private static string MachineTypeOf(XElement? arch)
    {
        var machines = arch?.Elements("machine").ToList() ?? [];
        var canonical = machines.Select(m => m.Attribute("canonical")?.Value).FirstOrDefault(c => !string.IsNullOrWhiteSpace(c));
        var first = machines.Select(m => m.Value.Trim()).FirstOrDefault(m => m.Length > 0);
        return canonical ?? first ?? FallbackMachineType;
    }
}
