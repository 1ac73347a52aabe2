namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>Bulk statistics of every domain in one call (virConnectGetAllDomainStats).</summary>
public sealed partial class RemoteHypervisor
{
    private const uint StatsGroups = LibvirtNative.StatsState | LibvirtNative.StatsCpuTotal | LibvirtNative.StatsBalloon |
        LibvirtNative.StatsVcpu | LibvirtNative.StatsInterface | LibvirtNative.StatsBlock;

    private const int TypedParamString = 7; // VIR_TYPED_PARAM_STRING

    /// <summary>
    /// Statistics of the domains whose names start with <paramref name="namePrefix"/>: the state, cpu-total,
    /// balloon, vcpu, interface and block groups. As in <see cref="LibvirtHypervisor.GetAllDomainStats"/>, an active
    /// domain without cpu.time (libvirt's test driver gives the state group only) is filled in from virDomainGetInfo.
    /// </summary>
    public IReadOnlyList<DomainStats> GetAllDomainStats(string namePrefix)
    {
        ArgumentNullException.ThrowIfNull(namePrefix);
        var args = new XdrWriter().Int(0).UInt(StatsGroups).UInt(0); // no domains named: all of them
        var body = _connection.Call(RemoteProtocol.ConnectGetAllDomainStats, args, "virConnectGetAllDomainStats");
        var records = new List<(RemoteDomain Domain, Dictionary<string, double> Fields)>();
        var reader = new XdrReader(body);
        var count = reader.Count(28);
        for (var i = 0; i < count; i++)
        {
            var domain = RemoteDomain.Read(ref reader);
            var fields = ReadFields(ref reader);
            if (domain.Name.StartsWith(namePrefix, StringComparison.Ordinal))
            {
                records.Add((domain, fields));
            }
        }

        var result = new List<DomainStats>(records.Count);
        foreach (var (domain, fields) in records)
        {
            if (!fields.ContainsKey("cpu.time") && fields.GetValueOrDefault("state.state") is 1 or 2 or 3)
            {
                FillFromInfo(domain, fields);
            }

            result.Add(new DomainStats(domain.Name, fields));
        }

        return result;
    }

    /// <summary>remote_typed_param&lt;&gt;: field name, then a union of the value on its type; strings are read past, not kept.</summary>
    private static Dictionary<string, double> ReadFields(ref XdrReader reader)
    {
        var count = reader.Count(12);
        var fields = new Dictionary<string, double>(count, StringComparer.Ordinal);
        for (var p = 0; p < count; p++)
        {
            var field = reader.String();
            var type = reader.Int();
            if (type == TypedParamString)
            {
                reader.String(); // net.0.name, block.0.path: not a number to export
                continue;
            }

            double value = type switch
            {
                LibvirtNative.TypedParamInt => reader.Int(),
                LibvirtNative.TypedParamUInt => reader.UInt(),
                LibvirtNative.TypedParamLLong => reader.Hyper(),
                LibvirtNative.TypedParamULLong => reader.UHyper(),
                LibvirtNative.TypedParamDouble => reader.Double(),
                LibvirtNative.TypedParamBoolean => reader.Int(),
                _ => throw new FormatException($"typed parameter {field} has unknown type {type}"),
            };
            fields[field] = value;
        }

        return fields;
    }

    private void FillFromInfo(RemoteDomain domain, Dictionary<string, double> fields)
    {
        try
        {
            var info = Info(domain);
            fields["cpu.time"] = info.CpuTime;
            fields["balloon.current"] = info.MemoryKiB;
            fields["balloon.maximum"] = info.MaxMemoryKiB;
            fields["vcpu.current"] = info.Vcpus;
        }
        catch (LibvirtException e) when (e.IsNoDomain)
        {
            // Gone since the stats call: it keeps what the stats gave.
        }
    }
}
