namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// One domain's statistics from libvirt's bulk stats call, by libvirt's own field names ("state.state",
/// "cpu.time" in ns, "balloon.current" in KiB, "vcpu.0.time", "net.0.rx.bytes", "block.1.wr.reqs", …); numeric
/// fields only. Which fields are there depends on the driver and the domain's state.
/// </summary>
public sealed record DomainStats(string Name, IReadOnlyDictionary<string, double> Fields)
{
    /// <summary>The field's value, or null when libvirt did not give it.</summary>
    public double? this[string field] => Fields.TryGetValue(field, out var value) ? value : null;

    /// <summary>The sum of <c>PREFIX.N.SUFFIX</c> over N in 0..<c>PREFIX.count</c>-1 (every vCPU, NIC or disk), or null when no device gave it.</summary>
    public double? Sum(string prefix, string suffix)
    {
        if (this[prefix + ".count"] is not { } count)
        {
            return null;
        }

        double? sum = null;
        for (var i = 0; i < (int)count; i++)
        {
            if (this[$"{prefix}.{i}.{suffix}"] is { } value)
            {
                sum = (sum ?? 0) + value;
            }
        }

        return sum;
    }
}
