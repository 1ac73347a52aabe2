using System.Globalization;
using System.Text;
using System.Xml;
using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// One NIC of a workspace: a tap that libvirt creates and attaches to <paramref name="Bridge"/>, a bridge the
/// agent owns. The tap's name is not given: it is <see cref="TapNames.For"/> of the workspace and the NIC's index.
/// </summary>
public sealed record DomainNic(string Mac, string Bridge);

/// <summary>
/// Everything a workspace's libvirt domain is made from. Built from validated values only.
/// <paramref name="SeedImagePath"/> is the NoCloud seed ISO, attached as a read-only CD-ROM;
/// <paramref name="Nics"/> are the guest's NICs in order (the first is its eth0);
/// <paramref name="DataDiskPaths"/> are blank qcow2 disks the guest sees as vdb, vdc, … in order;
/// <paramref name="DiskLimits"/> throttle each disk, root and data alike (null or zero: unlimited).
/// </summary>
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
    WorkspaceMetadata Metadata,
    string? SeedImagePath = null,
    IReadOnlyList<DomainNic>? Nics = null,
    IReadOnlyList<string>? DataDiskPaths = null,
    DiskLimits? DiskLimits = null,
    ResourceLimits? Limits = null,
    string? Partition = null);

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
            var tuning = spec.Limits ?? ResourceLimits.None;
            DomainTuning.WriteCpuTune(xml, tuning);
            DomainTuning.WriteMemTune(xml, tuning);
            if (spec.Partition is not null)
            {
                // The project's cgroup partition (docs/resources.md, "Per-project fair share").
                xml.WriteStartElement("resource");
                xml.WriteElementString("partition", spec.Partition);
                xml.WriteEndElement();
            }

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
            var limits = spec.DiskLimits ?? DiskLimits.None;
            WriteDisk(xml, spec.RootDiskPath, "vda", limits);
            var dataDisks = spec.DataDiskPaths ?? [];
            for (var i = 0; i < dataDisks.Count; i++)
            {
                WriteDisk(xml, dataDisks[i], DataDiskTarget(i), limits);
            }

            if (spec.SeedImagePath is not null)
            {
                WriteSeedCdrom(xml, spec.SeedImagePath);
            }

            var nics = spec.Nics ?? [];
            for (var i = 0; i < nics.Count; i++)
            {
                WriteNic(xml, nics[i], TapNames.For(spec.Metadata.WorkspaceId, i), tuning);
            }

            WriteSerialConsole(xml, spec.ConsoleLogPath);
            xml.WriteStartElement("memballoon");
            xml.WriteAttributeString("model", "virtio");
            xml.WriteEndElement();
            xml.WriteEndElement();

            xml.WriteEndElement();
        }

        return output.ToString();
    }

    /// <summary>The guest device of data disk <paramref name="index"/>: vdb, vdc, … (vda is the root disk).</summary>
    public static string DataDiskTarget(int index) => "vd" + (char)('b' + index);

    /// <summary>
    /// A qcow2 disk on virtio. Cache mode is libvirt's default for root and data disks alike: cache='none' would need
    /// O_DIRECT, which a workspace directory on tmpfs does not support.
    /// </summary>
    private static void WriteDisk(XmlWriter xml, string path, string target, DiskLimits limits)
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
        xml.WriteAttributeString("dev", target);
        xml.WriteAttributeString("bus", "virtio");
        xml.WriteEndElement();
        WriteIoTune(xml, limits);
        xml.WriteEndElement();
    }

    /// <summary>QEMU's throttling of one disk, only the limits that are set; no element at all when none is.</summary>
    private static void WriteIoTune(XmlWriter xml, DiskLimits limits)
    {
        if (limits.IsNone)
        {
            return;
        }

        xml.WriteStartElement("iotune");
        if (limits.TotalIops != 0)
        {
            xml.WriteElementString("total_iops_sec", limits.TotalIops.ToString(CultureInfo.InvariantCulture));
        }

        if (limits.TotalBytesPerSecond != 0)
        {
            xml.WriteElementString("total_bytes_sec", limits.TotalBytesPerSecond.ToString(CultureInfo.InvariantCulture));
        }

        xml.WriteEndElement();
    }

    /// <summary>
    /// The seed on SATA: libvirt adds an AHCI controller on both i440fx ("pc") and q35, where IDE exists only on
    /// i440fx; every cloud image's kernel has the AHCI driver.
    /// </summary>
    private static void WriteSeedCdrom(XmlWriter xml, string path)
    {
        xml.WriteStartElement("disk");
        xml.WriteAttributeString("type", "file");
        xml.WriteAttributeString("device", "cdrom");
        xml.WriteStartElement("driver");
        xml.WriteAttributeString("name", "qemu");
        xml.WriteAttributeString("type", "raw");
        xml.WriteEndElement();
        xml.WriteStartElement("source");
        xml.WriteAttributeString("file", path);
        xml.WriteEndElement();
        xml.WriteStartElement("target");
        xml.WriteAttributeString("dev", "sda");
        xml.WriteAttributeString("bus", "sata");
        xml.WriteEndElement();
        xml.WriteElementString("readonly", string.Empty);
        xml.WriteEndElement();
    }

    private static void WriteNic(XmlWriter xml, DomainNic nic, string tap, ResourceLimits limits)
    {
        xml.WriteStartElement("interface");
        xml.WriteAttributeString("type", "bridge");
        xml.WriteStartElement("mac");
        xml.WriteAttributeString("address", nic.Mac);
        xml.WriteEndElement();
        xml.WriteStartElement("source");
        xml.WriteAttributeString("bridge", nic.Bridge);
        xml.WriteEndElement();
        xml.WriteStartElement("target");
        xml.WriteAttributeString("dev", tap);
        xml.WriteEndElement();
        xml.WriteStartElement("model");
        xml.WriteAttributeString("type", "virtio");
        xml.WriteEndElement();
        DomainTuning.WriteBandwidth(xml, limits);
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

        if (spec.Partition is not null && !Partitions.ProjectPartitions.IsPartition(spec.Partition))
        {
            problems.Add($"partition '{spec.Partition}' was not made by ProjectPartitions.PartitionFor");
        }

        if (spec.Vcpus is < 1 or > 1024)
        {
            problems.Add($"{spec.Vcpus} vCPUs is outside 1–1024");
        }

        if (spec.MemoryBytes < 16 << 20)
        {
            problems.Add($"{spec.MemoryBytes} bytes of memory is less than 16 MiB");
        }

        foreach (var (what, path) in new[] { ("root disk", spec.RootDiskPath), ("console log", spec.ConsoleLogPath), ("kernel", spec.KernelPath), ("initrd", spec.InitrdPath), ("seed image", spec.SeedImagePath) })
        {
            ValidatePath(what, path, problems);
        }

        if (spec.KernelCommandLine?.Any(char.IsControl) == true)
        {
            problems.Add("the kernel command line contains control characters");
        }

        ValidateNics(spec, problems);
        ValidateDataDisks(spec, problems);
        DomainTuning.Validate(spec.Limits ?? ResourceLimits.None, problems);
        if (problems.Count > 0)
        {
            throw new ArgumentException($"cannot build the domain of workspace {spec.Metadata.WorkspaceId}: " + string.Join("; ", problems), nameof(spec));
        }
    }

    private static void ValidatePath(string what, string? path, List<string> problems)
    {
        if (path is not null && (!Path.IsPathRooted(path) || path.Any(char.IsControl) || path.Contains("/../", StringComparison.Ordinal)))
        {
            problems.Add($"{what} path '{Contract.IdSyntax.Printable(path)}' is not a plain absolute path");
        }
    }

    private static void ValidateDataDisks(DomainSpec spec, List<string> problems)
    {
        var disks = spec.DataDiskPaths ?? [];
        if (disks.Count > WorkspaceStorage.MaxDataDisks)
        {
            problems.Add($"{disks.Count} data disks is more than {WorkspaceStorage.MaxDataDisks}");
        }

        for (var i = 0; i < disks.Count; i++)
        {
            if (disks[i] is null)
            {
                problems.Add($"data disk {i} is missing");
            }
            else
            {
                ValidatePath($"data disk {i}", disks[i], problems);
            }
        }

        if (spec.DiskLimits is { } limits)
        {
            foreach (var (what, value) in new[] { ("IOPS", limits.TotalIops), ("bytes per second", limits.TotalBytesPerSecond) })
            {
                if (value is < 0 or > WorkspaceStorage.MaxLimit)
                {
                    problems.Add($"disk limit of {value} {what} is outside 0–{WorkspaceStorage.MaxLimit} (0 is unlimited)");
                }
            }
        }
    }

    private static void ValidateNics(DomainSpec spec, List<string> problems)
    {
        var nics = spec.Nics ?? [];
        if (nics.Count > TapNames.MaxNics)
        {
            problems.Add($"{nics.Count} NICs is more than {TapNames.MaxNics}");
        }

        if (nics.Count > 0 && !Contract.IdSyntax.IsValid(spec.Metadata.WorkspaceId, out var idProblem))
        {
            problems.Add($"workspace id {idProblem}, so its NICs have no tap names");
        }

        var macs = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < nics.Count; i++)
        {
            if (nics[i] is not { } nic)
            {
                problems.Add($"NIC {i} is missing");
                continue;
            }

            if (!Contract.NetworkSyntax.IsValidMac(nic.Mac, out var macProblem))
            {
                problems.Add($"NIC {i}: {macProblem}");
            }
            else if (!macs.Add(nic.Mac))
            {
                problems.Add($"NIC {i}: MAC {nic.Mac} is already another NIC's");
            }

            if (!TapNames.IsValidInterfaceName(nic.Bridge, out var bridgeProblem))
            {
                problems.Add($"NIC {i}: bridge {bridgeProblem}");
            }
        }
    }
}
