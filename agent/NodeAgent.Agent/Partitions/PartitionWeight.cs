namespace NodeAgent.Agent.Partitions;

/// <summary>
/// A project partition's CPU weight as the kernel holds it: <c>cpu.shares</c> of the v1 cpu hierarchy and
/// <c>cpu.weight</c> of the cgroup2 one, each null where that hierarchy has no such file (no partition there, or no
/// cpu controller). Siblings under <c>machine</c> share contended CPU in proportion to these numbers.
/// </summary>
/// <param name="CpuShares">cgroup v1 <c>cpu.shares</c> (2–262144).</param>
/// <param name="CpuWeight">cgroup v2 <c>cpu.weight</c> (1–10000).</param>
public sealed record PartitionWeight(uint? CpuShares, uint? CpuWeight)
{
    /// <summary>The smallest cgroup v1 <c>cpu.shares</c> the kernel keeps.</summary>
    public const uint MinShares = 2;

    /// <summary>The largest cgroup v1 <c>cpu.shares</c> the kernel keeps.</summary>
    public const uint MaxShares = 262144;

    /// <summary>The kernel's default <c>cpu.shares</c>, and the scheduler's default CPU weight.</summary>
    public const uint DefaultShares = 1024;

    /// <summary>
    /// The cgroup v2 <c>cpu.weight</c> for v1 <c>cpu.shares</c>: 1 + ((shares − 2) × 9999) / 262142, the linear map of
    /// 2–262144 onto 1–10000 that runc, crun and the kubelet use. It keeps every ratio between projects (within the
    /// rounding) across the whole range; it maps the default 1024 to 39, not to v2's default 100 — which only matters
    /// next to a cgroup under <c>machine</c> that is not a project partition. (systemd's own conversion, shares × 100 /
    /// 1024, keeps the default but saturates at 102400 shares.)
    /// </summary>
    public static uint WeightFromShares(uint shares)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shares, MinShares);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shares, MaxShares);
        return 1 + (uint)((ulong)(shares - MinShares) * 9999 / 262142);
    }
}
