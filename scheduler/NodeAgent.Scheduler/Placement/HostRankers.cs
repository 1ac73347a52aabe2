namespace NodeAgent.Scheduler.Placement;

/// <summary>The names operators weigh rankers by (<see cref="PlacementOptions.ParseWeights"/>) and explanations show.</summary>
public static class RankerNames
{
    public const string MeasuredLoad = "measured-load";
    public const string ImageCached = "image-cached";
    public const string Pack = "pack";
    public const string Spread = "spread";
    public const string GroupSpread = "group-spread";

    /// <summary>Every name a weight may be given for; <see cref="Pack"/> and <see cref="Spread"/> both weigh the one <see cref="AllocationRanker"/>.</summary>
    public static IReadOnlyList<string> All { get; } = [MeasuredLoad, ImageCached, Pack, Spread, GroupSpread];
}

/// <summary>
/// Prefers hosts that are really idle, as their agents measured (CPU utilization and memory pressure, smoothed by
/// a <see cref="LoadAverage"/> when the caller keeps one), not as allocations suggest.
/// </summary>
public sealed class MeasuredLoadRanker : IHostRanker
{
    private readonly double _cpuShare;

    /// <param name="cpuShare">
    /// How much of the load is CPU, the rest memory pressure. CPU weighs more by default: an idle-memory host whose
    /// CPUs are busy slows every new guest, while memory pressure only matters as it nears 1.
    /// </param>
    public MeasuredLoadRanker(double cpuShare = 0.7)
    {
        if (cpuShare is not (>= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(cpuShare), cpuShare, "the CPU share of the load must be from 0 to 1");
        }

        _cpuShare = cpuShare;
    }

    public string Name => RankerNames.MeasuredLoad;

    public double Score(PlacementCandidate candidate, PlacementRequest request) =>
        1 - LoadAverage.Clamp01((_cpuShare * candidate.CpuLoad) + ((1 - _cpuShare) * candidate.MemoryPressure));
}

/// <summary>
/// Bin packing or spreading, chosen per deployment: looks at how much of the host's vCPUs and memory would be
/// allocated with the workspace placed (the mean of the two fractions). Pack prefers the fullest such host, which
/// keeps whole hosts free for big workspaces and lets idle hosts be switched off; spread prefers the emptiest,
/// which keeps one host's failure or noisy neighbour from touching many workspaces.
/// </summary>
public sealed class AllocationRanker(PlacementStrategy strategy) : IHostRanker
{
    public PlacementStrategy Strategy => strategy;

    public string Name => strategy == PlacementStrategy.Pack ? RankerNames.Pack : RankerNames.Spread;

    public double Score(PlacementCandidate candidate, PlacementRequest request)
    {
        var fraction = AllocatedFraction(candidate, request);
        return strategy == PlacementStrategy.Pack ? fraction : 1 - fraction;
    }

    /// <summary>From 0 to 1: the mean share of vCPUs and memory allocated on the host once the workspace is placed.</summary>
    public static double AllocatedFraction(PlacementCandidate candidate, PlacementRequest request)
    {
        var capacity = candidate.Capacity;
        var cpu = Fraction(capacity.Vcpus - candidate.Free.Vcpus + request.Resources.Vcpus, capacity.Vcpus);
        var memory = Fraction(capacity.MemoryBytes - candidate.Free.MemoryBytes + request.Resources.MemoryBytes, capacity.MemoryBytes);
        return (cpu + memory) / 2;
    }

    private static double Fraction(double used, double capacity) => capacity <= 0 ? 1 : LoadAverage.Clamp01(used / capacity);
}

/// <summary>Prefers hosts that have the workspace's image cached already: the workspace starts without a download.</summary>
public sealed class ImageCachedRanker : IHostRanker
{
    public string Name => RankerNames.ImageCached;

    public double Score(PlacementCandidate candidate, PlacementRequest request) =>
        request.ImageSha256 is { } digest && candidate.CachedImages.Contains(digest) ? 1 : 0;
}

/// <summary>
/// Spreads a deployment's workspaces (its spread group) over hosts as a preference: a host that runs none of the
/// group scores 1, one that runs n scores 1 / (n + 1). Unlike anti-affinity, a host that runs some is still
/// feasible when nothing better is.
/// </summary>
public sealed class GroupSpreadRanker : IHostRanker
{
    public string Name => RankerNames.GroupSpread;

    public double Score(PlacementCandidate candidate, PlacementRequest request) =>
        request.SpreadGroup is { } group ? 1.0 / (1 + Math.Max(0, candidate.SpreadGroupLeases.GetValueOrDefault(group))) : 1;
}
