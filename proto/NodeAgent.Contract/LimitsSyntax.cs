namespace NodeAgent.Contract;

/// <summary>
/// The ranges of a workspace's limits (<see cref="V1.WorkspaceLimits"/>), checked the same way by the scheduler
/// and the agent. 0 always means "the host's default".
/// </summary>
public static class LimitsSyntax
{
    public const uint MinCpuWeight = 2;
    public const uint MaxCpuWeight = 262_144;

    /// <summary>What QEMU needs beyond guest memory at the least; a hard limit closer than this kills the guest at boot.</summary>
    public const ulong MinMemoryOverhead = 128UL << 20;

    /// <summary>libvirt takes NIC bandwidth in KiB/s as a 32-bit number on some paths: 4 TiB/s is beyond any NIC.</summary>
    public const ulong MaxNicBytesPerSecond = 4UL << 40;

    /// <summary>Every problem with <paramref name="limits"/> for a workspace of <paramref name="memoryBytes"/>, each naming the field and the allowed range.</summary>
    public static IReadOnlyList<string> Problems(V1.WorkspaceLimits? limits, ulong memoryBytes)
    {
        var problems = new List<string>();
        if (limits is null)
        {
            return problems;
        }

        if (limits.CpuWeight != 0 && limits.CpuWeight is < MinCpuWeight or > MaxCpuWeight)
        {
            problems.Add($"limits.cpu_weight is {limits.CpuWeight}; it must be 0 (the default, 1024) or {MinCpuWeight}–{MaxCpuWeight}");
        }

        if (limits.CpuCapPercent > 100)
        {
            problems.Add($"limits.cpu_cap_percent is {limits.CpuCapPercent}; it must be 0 (no cap) or 1–100 (percent of one host CPU per vCPU)");
        }

        if (limits.MemoryHardLimitBytes != 0 && limits.MemoryHardLimitBytes < memoryBytes + MinMemoryOverhead)
        {
            problems.Add($"limits.memory_hard_limit_bytes is {limits.MemoryHardLimitBytes}; it must be 0 (none) or at least the workspace's memory plus " +
                $"{MinMemoryOverhead >> 20} MiB for QEMU itself ({memoryBytes + MinMemoryOverhead}), or the guest is killed as it boots");
        }

        foreach (var (field, value) in new[] { ("nic_inbound_bytes_per_second", limits.NicInboundBytesPerSecond), ("nic_outbound_bytes_per_second", limits.NicOutboundBytesPerSecond) })
        {
            if (value != 0 && value is < 1024 or > MaxNicBytesPerSecond)
            {
                problems.Add($"limits.{field} is {value}; it must be 0 (unlimited) or 1 KiB/s–4 TiB/s");
            }
        }

        return problems;
    }
}
