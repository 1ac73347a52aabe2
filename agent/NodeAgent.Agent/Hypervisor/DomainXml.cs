using System.Globalization;
using System.Text;
using System.Xml;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>Everything a workspace's libvirt domain is made from. Built from validated values only.</summary>
public sealed record DomainSpec(
    string Name,
    string DomainType,
    string Architecture,
    int Vcpus,
    long MemoryBytes,
    string RootDiskPath,
    string? KernelPath,
    string? InitrdPath,
    string? KernelCommandLine,
    string ConsoleLogPath,
    WorkspaceMetadata Metadata);

/// <summary>
/// The one serializer of libvirt domain XML. Every value goes through <see cref="XmlWriter"/>, which escapes
/// it, and is checked first, so no workspace field can add elements or attributes to a domain.
/// </summary>
public static class DomainXml
{
    public static string Write(DomainSpec spec)
    {
        Validate(spec);
        var output = new StringBuilder();
        var settings = new XmlWriterSettings { OmitXmlDeclaration = true, Indent = true, Encoding = Encoding.UTF8 };
        using (var xml = XmlWriter.Create(output, settings))
        {
            xml.WriteStartElement("domain");
            xml.WriteAttributeString("type", spec.DomainType);
            xml.WriteElementString("name", spec.Name);

            xml.WriteStartElement("metadata");
            spec.Metadata.Write(xml, WorkspaceMetadata.Namespace);
            xml.WriteEndElement();

            xml.WriteStartElement("memory");
            xml.WriteAttributeString("unit", "KiB");
            xml.WriteString((spec.MemoryBytes / 1024).ToString(CultureInfo.InvariantCulture));
            xml.WriteEndElement();
            xml.WriteElementString("vcpu", spec.Vcpus.ToString(CultureInfo.InvariantCulture));

            xml.WriteStartElement("os");
            xml.WriteStartElement("type");
            xml.WriteAttributeString("arch", spec.Architecture);
            xml.WriteString("hvm");
            xml.WriteEndElement();
            if (spec.KernelPath is not null)
            {
                xml.WriteElementString("kernel", spec.KernelPath);
                if (spec.InitrdPath is not null)
                {
                    xml.WriteElementString("initrd", spec.InitrdPath);
                }

                if (spec.KernelCommandLine is not null)
                {
                    xml.WriteElementString("cmdline", spec.KernelCommandLine);
                }
            }
            else
            {
                xml.WriteStartElement("boot");
                xml.WriteAttributeString("dev", "hd");
                xml.WriteEndElement();
            }

            xml.WriteEndElement();

            xml.WriteStartElement("features");
            xml.WriteElementString("acpi", string.Empty);
            xml.WriteElementString("apic", string.Empty);
            xml.WriteEndElement();
            xml.WriteElementString("on_poweroff", "destroy");
            xml.WriteElementString("on_reboot", "restart");
            xml.WriteElementString("on_crash", "destroy");

            xml.WriteStartElement("devices");
            WriteRootDisk(xml, spec.RootDiskPath);
            WriteSerialConsole(xml, spec.ConsoleLogPath);
            xml.WriteStartElement("memballoon");
            xml.WriteAttributeString("model", "virtio");
            xml.WriteEndElement();
            xml.WriteEndElement();

            xml.WriteEndElement();
        }

        return output.ToString();
    }

    private static void WriteRootDisk(XmlWriter xml, string path)
    {
        xml.WriteStartElement("disk");
        xml.WriteAttributeString("type", "file");
        xml.WriteAttributeString("device", "disk");
        xml.WriteStartElement("driver");
        xml.WriteAttributeString("name", "qemu");
        xml.WriteAttributeString("type", "qcow2");
        xml.WriteEndElement();
        xml.WriteStartElement("source");
        xml.WriteAttributeString("file", path);
        xml.WriteEndElement();
        xml.WriteStartElement("target");
        xml.WriteAttributeString("dev", "vda");
        xml.WriteAttributeString("bus", "virtio");
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>The guest's first serial port goes to a file, appended to, so its console can be read after the fact.</summary>
    private static void WriteSerialConsole(XmlWriter xml, string path)
    {
        xml.WriteStartElement("serial");
        xml.WriteAttributeString("type", "file");
        xml.WriteStartElement("source");
        xml.WriteAttributeString("path", path);
        // Kept across stops, starts and reboots: the console of every boot stays readable.
        xml.WriteAttributeString("append", "on");
        xml.WriteEndElement();
        xml.WriteStartElement("target");
        xml.WriteAttributeString("port", "0");
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    private static void Validate(DomainSpec spec)
    {
        var problems = new List<string>();
        if (!Contract.IdSyntax.IsValid(spec.Name, out var nameProblem))
        {
            problems.Add($"name {nameProblem}");
        }

        if (spec.DomainType is not ("kvm" or "qemu" or "test"))
        {
            problems.Add($"domain type '{spec.DomainType}' is not kvm, qemu or test");
        }

        if (spec.Vcpus is < 1 or > 1024)
        {
            problems.Add($"{spec.Vcpus} vCPUs is outside 1–1024");
        }

        if (spec.MemoryBytes < 16 << 20)
        {
            problems.Add($"{spec.MemoryBytes} bytes of memory is less than 16 MiB");
        }

        foreach (var (what, path) in new[] { ("root disk", spec.RootDiskPath), ("console log", spec.ConsoleLogPath), ("kernel", spec.KernelPath), ("initrd", spec.InitrdPath) })
        {
            if (path is not null && (!Path.IsPathRooted(path) || path.Any(char.IsControl) || path.Contains("/../", StringComparison.Ordinal)))
            {
                problems.Add($"{what} path '{Contract.IdSyntax.Printable(path)}' is not a plain absolute path");
            }
        }

        if (spec.KernelCommandLine?.Any(char.IsControl) == true)
        {
            problems.Add("the kernel command line contains control characters");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"cannot build the domain of workspace {spec.Metadata.WorkspaceId}: " + string.Join("; ", problems), nameof(spec));
        }
    }
}
