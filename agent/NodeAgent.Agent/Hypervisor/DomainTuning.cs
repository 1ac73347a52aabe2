using System.Globalization;
using System.Xml;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// How a workspace shares its host, as libvirt enforces it through cgroups and tc: CPU weight and a per-vCPU cap,
/// a hard memory limit, and NIC bandwidth. 0 leaves each at the host's default. Values are checked on arrival
/// (<see cref="Contract.LimitsSyntax"/>); here they are numbers only.
/// </summary>
public sealed record ResourceLimits(int CpuWeight, int CpuCapPercent, long MemoryHardLimitBytes, long NicInboundBytesPerSecond, long NicOutboundBytesPerSecond)
{
    public static readonly ResourceLimits None = new(0, 0, 0, 0, 0);

    /// <summary>The CFS period the cap is a share of: the kernel's default, 100 ms.</summary>
    public const int CpuPeriodMicroseconds = 100_000;

    public static ResourceLimits FromWire(Contract.V1.WorkspaceLimits? wire) => wire is null ? None : new(
        (int)wire.CpuWeight, (int)wire.CpuCapPercent, (long)wire.MemoryHardLimitBytes, (long)wire.NicInboundBytesPerSecond, (long)wire.NicOutboundBytesPerSecond);
}

/// <summary>Writes <see cref="ResourceLimits"/> into domain XML: &lt;cputune&gt;, &lt;memtune&gt; and each NIC's &lt;bandwidth&gt;.</summary>
internal static class DomainTuning
{
    /// <summary>&lt;cputune&gt; with shares, and period + quota per vCPU for a cap; nothing when neither is set.</summary>
    public static void WriteCpuTune(XmlWriter xml, ResourceLimits limits)
    {
        if (limits.CpuWeight == 0 && limits.CpuCapPercent == 0)
        {
            return;
        }

        xml.WriteStartElement("cputune");
        if (limits.CpuWeight != 0)
        {
            xml.WriteElementString("shares", Number(limits.CpuWeight));
        }

        if (limits.CpuCapPercent != 0)
        {
            // libvirt's <quota> applies to each vCPU thread: a cap of 50 % lets every vCPU use half a host CPU.
            xml.WriteElementString("period", Number(ResourceLimits.CpuPeriodMicroseconds));
            xml.WriteElementString("quota", Number((long)ResourceLimits.CpuPeriodMicroseconds * limits.CpuCapPercent / 100));
        }

        xml.WriteEndElement();
    }

    public static void WriteMemTune(XmlWriter xml, ResourceLimits limits)
    {
        if (limits.MemoryHardLimitBytes == 0)
        {
            return;
        }

        xml.WriteStartElement("memtune");
        xml.WriteStartElement("hard_limit");
        xml.WriteAttributeString("unit", "KiB");
        xml.WriteString(Number(limits.MemoryHardLimitBytes / 1024));
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>&lt;bandwidth&gt; of one NIC, in libvirt's unit (KiB/s, at least 1); nothing when unlimited both ways.</summary>
    public static void WriteBandwidth(XmlWriter xml, ResourceLimits limits)
    {
        if (limits.NicInboundBytesPerSecond == 0 && limits.NicOutboundBytesPerSecond == 0)
        {
            return;
        }

        xml.WriteStartElement("bandwidth");
        foreach (var (element, bytes) in new[] { ("inbound", limits.NicInboundBytesPerSecond), ("outbound", limits.NicOutboundBytesPerSecond) })
        {
            if (bytes != 0)
            {
                xml.WriteStartElement(element);
                xml.WriteAttributeString("average", Number(Math.Max(1, bytes / 1024)));
                xml.WriteEndElement();
            }
        }

        xml.WriteEndElement();
    }

    public static void Validate(ResourceLimits limits, List<string> problems)
    {
        if (limits.CpuWeight < 0 || limits.CpuCapPercent is < 0 or > 100 || limits.MemoryHardLimitBytes < 0 || limits.NicInboundBytesPerSecond < 0 || limits.NicOutboundBytesPerSecond < 0)
        {
            problems.Add($"limits {limits} hold a negative number or a cap over 100 %");
        }
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
