using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>Bulk statistics of every domain in one libvirt call.</summary>
public sealed partial class LibvirtHypervisor
{
    private const uint StatsGroups = LibvirtNative.StatsState | LibvirtNative.StatsCpuTotal | LibvirtNative.StatsBalloon |
        LibvirtNative.StatsVcpu | LibvirtNative.StatsInterface | LibvirtNative.StatsBlock;

    /// <summary>
    /// Statistics of the domains whose names start with <paramref name="namePrefix"/>, from one
    /// virConnectGetAllDomainStats call (state, cpu-total, balloon, vcpu, interface and block groups).
    /// </summary>
    /// <remarks>
    /// libvirt 9.0's test driver (test:///default) answers that call with the state group only. For an active
    /// domain whose record has no cpu.time, the fields virDomainGetInfo gives are filled in from it instead
    /// (cpu.time, balloon.current, balloon.maximum, vcpu.current): on the QEMU driver that never happens, since
    /// every active domain has cpu.time; on the test driver it costs one more call per domain.
    /// </remarks>
    public IReadOnlyList<DomainStats> GetAllDomainStats(string namePrefix)
    {
        ArgumentNullException.ThrowIfNull(namePrefix);
        var count = LibvirtNative.virConnectGetAllDomainStats(_connection, StatsGroups, out var records, 0);
        if (count < 0)
        {
            throw Failed(nameof(LibvirtNative.virConnectGetAllDomainStats), null);
        }

        try
        {
            var result = new List<DomainStats>(count);
            for (var i = 0; i < count; i++)
            {
                var record = Marshal.PtrToStructure<LibvirtNative.DomainStatsRecord>(Marshal.ReadIntPtr(records, i * IntPtr.Size));
                var name = Marshal.PtrToStringUTF8(LibvirtNative.virDomainGetNameBorrowed(record.Domain));
                if (name is null || !name.StartsWith(namePrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var fields = ReadFields(record);
                if (!fields.ContainsKey("cpu.time") && fields.GetValueOrDefault("state.state") is 1 or 2 or 3)
                {
                    FillFromInfo(record.Domain, fields);
                }

                result.Add(new DomainStats(name, fields));
            }

            return result;
        }
        finally
        {
            LibvirtNative.virDomainStatsRecordListFree(records);
        }
    }

    private static Dictionary<string, double> ReadFields(LibvirtNative.DomainStatsRecord record)
    {
        var fields = new Dictionary<string, double>(record.ParamCount, StringComparer.Ordinal);
        var size = Marshal.SizeOf<LibvirtNative.TypedParameter>();
        for (var p = 0; p < record.ParamCount; p++)
        {
            var address = record.Params + (p * size);
            var parameter = Marshal.PtrToStructure<LibvirtNative.TypedParameter>(address);
            double? value = parameter.Type switch
            {
                LibvirtNative.TypedParamInt => (int)parameter.Bits,
                LibvirtNative.TypedParamUInt => (uint)parameter.Bits,
                LibvirtNative.TypedParamLLong => parameter.Bits,
                LibvirtNative.TypedParamULLong => (ulong)parameter.Bits,
                LibvirtNative.TypedParamDouble => parameter.Double,
                LibvirtNative.TypedParamBoolean => (byte)parameter.Bits,
                _ => null, // strings (net.0.name, block.0.path): not a number to export
            };
            if (value is { } number && Marshal.PtrToStringUTF8(address) is { } field)
            {
                fields[field] = number;
            }
        }

        return fields;
    }

    private static void FillFromInfo(nint domain, Dictionary<string, double> fields)
    {
        if (LibvirtNative.virDomainGetInfoBorrowed(domain, out var info) < 0)
        {
            LibvirtNative.virResetLastError(); // gone since the stats call: it keeps what the stats gave
            return;
        }

        fields["cpu.time"] = info.CpuTimeNanoseconds;
        fields["balloon.current"] = info.MemoryKiB;
        fields["balloon.maximum"] = info.MaxMemoryKiB;
        fields["vcpu.current"] = info.VirtualCpus;
    }
}
