using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using static NodeAgent.Tests.Placement.PlacementHosts;

namespace NodeAgent.Tests.Placement;

/// <summary>What is wrong with a generated host for <see cref="SyntheticCluster.Request"/>, in the order the default filters check.</summary>
internal enum Defect
{
    Disabled,
    Draining,
    Down,
    Degraded,
    WrongArchitecture,
    NoBridge,
    NoGpu,
    WrongRack,
    RunsGroup,
    Full,
}

/// <summary>
/// A generated cluster of hosts with mixed admin state, health, architecture, labels, features, networks,
/// capacity and load. Each host is given zero, one or two known defects, so the test knows the reason each
/// rejected host must be counted under (its first defect in filter order) without asking the filters.
/// </summary>
internal sealed class SyntheticCluster
{
    public const string Digest = "5b2c3f0e5d4a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";

    private SyntheticCluster(IReadOnlyList<PlacementCandidate> hosts, IReadOnlyList<Defect[]> defects)
    {
        Hosts = hosts;
        Defects = defects;
    }

    /// <summary>An x86_64 workspace with a GPU in rack r1 on network lab, of anti-affinity group db and spread group web.</summary>
    public static PlacementRequest Request { get; } = PlacementHosts.Request() with
    {
        Network = "lab",
        ImageSha256 = Digest,
        Architecture = "x86_64",
        RequiredFeatures = ["gpu"],
        RequiredLabels = new Dictionary<string, string> { ["rack"] = "r1" },
        AntiAffinityGroup = "db",
        SpreadGroup = "web",
    };

    public IReadOnlyList<PlacementCandidate> Hosts { get; }

    /// <summary>Each host's defects, sorted in filter order; empty for a feasible host.</summary>
    public IReadOnlyList<Defect[]> Defects { get; }

    public IEnumerable<PlacementCandidate> FeasibleHosts => Hosts.Where((_, i) => Defects[i].Length == 0);

    /// <summary>
    /// <paramref name="count"/> hosts, about <paramref name="feasibleShare"/> of them feasible; of the others, a
    /// quarter have two defects. Host ids are h00000, h00001, … in list order.
    /// </summary>
    public static SyntheticCluster Generate(int count, int seed, double feasibleShare = 0.4)
    {
        var random = new Random(seed);
        var all = Enum.GetValues<Defect>();
        var hosts = new List<PlacementCandidate>(count);
        var defects = new List<Defect[]>(count);
        for (var i = 0; i < count; i++)
        {
            Defect[] wrong = random.NextDouble() < feasibleShare ? []
                : random.NextDouble() < 0.25 ? [.. new[] { all[random.Next(all.Length)], all[random.Next(all.Length)] }.Distinct().Order()]
                : [all[random.Next(all.Length)]];
            hosts.Add(Build($"h{i:D5}", wrong, random));
            defects.Add(wrong);
        }

        return new SyntheticCluster(hosts, defects);
    }

    /// <summary>A host that can take <see cref="Request"/>, half allocated, at the given measured CPU load.</summary>
    public static PlacementCandidate Feasible(string id, double cpu) => PlacementHosts.Host(
        id,
        allocated: new Resources(4, 8 * GiB, 10 * GiB),
        cpu: cpu,
        labels: new Dictionary<string, string> { ["rack"] = "r1" },
        features: ["gpu"],
        networks: ["lab"]);

    /// <summary>The reason the default filters must give for a host with these defects: its first one's.</summary>
    public static string? ExpectedReason(Defect[] defects) => defects.Length == 0 ? null : defects[0] switch
    {
        Defect.Disabled => RejectReasons.Disabled,
        Defect.Draining => RejectReasons.Draining,
        Defect.Down => RejectReasons.Down,
        Defect.Degraded => RejectReasons.Degraded,
        Defect.WrongArchitecture => "architecture aarch64, not x86_64",
        Defect.NoBridge => "no bridge for network lab",
        Defect.NoGpu => "lacks feature gpu",
        Defect.WrongRack => "label rack≠r1",
        Defect.RunsGroup => "runs a workspace of anti-affinity group db",
        _ => RejectReasons.Memory,
    };

    /// <summary>How many hosts each reason must be counted for.</summary>
    public Dictionary<string, int> ExpectedRejections() => Defects
        .Select(ExpectedReason).OfType<string>()
        .GroupBy(r => r, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    private static PlacementCandidate Build(string id, Defect[] defects, Random random)
    {
        var capacity = new Resources(random.Next(8, 65), random.Next(16, 257) * GiB, random.Next(200, 2001) * GiB);
        var full = defects.Contains(Defect.Full);

        // A full host has less than the request's 4 GiB of memory free; any other leaves room for it.
        var allocatedMemory = full
            ? capacity.MemoryBytes - random.Next(0, 4) * GiB
            : (long)(random.NextDouble() * (capacity.MemoryBytes - (4 * GiB)));
        var allocated = new Resources(random.Next(0, capacity.Vcpus - 1), allocatedMemory, random.Next(0, 100) * GiB);
        var host = PlacementHosts.Host(
            id,
            capacity,
            allocated,
            cpu: random.NextDouble(),
            memoryAvailable: (long)(random.NextDouble() * capacity.MemoryBytes) + 1,
            architecture: defects.Contains(Defect.WrongArchitecture) ? "aarch64" : random.Next(2) == 0 ? "x86_64" : "amd64",
            labels: new Dictionary<string, string>
            {
                ["rack"] = defects.Contains(Defect.WrongRack) ? $"r{random.Next(2, 5)}" : "r1",
                ["zone"] = $"z{random.Next(3)}",
            },
            features: defects.Contains(Defect.NoGpu) ? ["kvm"] : ["kvm", "gpu"],
            networks: defects.Contains(Defect.NoBridge) ? ["default"] : ["default", "lab"],
            health: defects.Contains(Defect.Down) ? HostHealth.Down : defects.Contains(Defect.Degraded) ? HostHealth.Degraded : HostHealth.Up,
            schedule: defects.Contains(Defect.Disabled) ? HostSchedule.Disabled : defects.Contains(Defect.Draining) ? HostSchedule.Draining : HostSchedule.Enabled);
        return host with
        {
            CachedImages = random.Next(3) == 0 ? new HashSet<string> { Digest } : new HashSet<string>(),
            AntiAffinityGroups = defects.Contains(Defect.RunsGroup) ? new HashSet<string> { "db", "cache" } : new HashSet<string> { "cache" },
            SpreadGroupLeases = new Dictionary<string, int> { ["web"] = random.Next(4), ["api"] = random.Next(4) },
        };
    }
}
