using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>Builds placement candidates from plain values, the way LeaseManager builds them from host records.</summary>
internal static class PlacementHosts
{
    public const long GiB = 1L << 30;

    public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    public static readonly Resources Capacity = new(8, 16 * GiB, 100 * GiB);

    /// <summary>A host; <paramref name="allocated"/> is what its leases hold, and <see cref="PlacementCandidate.Free"/> follows from it.</summary>
    public static PlacementCandidate Host(
        string id,
        Resources? capacity = null,
        Resources? allocated = null,
        double cpu = 0,
        long? memoryAvailable = null,
        string architecture = "x86_64",
        IReadOnlyDictionary<string, string>? labels = null,
        IReadOnlyList<string>? features = null,
        IReadOnlyList<string>? networks = null,
        HostHealth health = HostHealth.Up,
        HostSchedule schedule = HostSchedule.Enabled)
    {
        var size = capacity ?? Capacity;
        var registration = new HostRegistration(HostId.Parse(id), id, "1", architecture, "kvm", size,
            labels ?? new Dictionary<string, string>(), features ?? [])
        {
            Networks = networks ?? [],
        };
        var load = new HostLoad(cpu, memoryAvailable ?? size.MemoryBytes, 0, 0, Resources.None);
        var record = new HostRecord(registration, load, allocated ?? Resources.None, Now, Now, 1);
        return new PlacementCandidate(record, health, record.Free) { Schedule = schedule };
    }

    /// <summary>A request for 2 vCPUs, 4 GiB of memory and 20 GiB of disk, with no constraints.</summary>
    public static PlacementRequest Request() => new(new Resources(2, 4 * GiB, 20 * GiB));

    /// <summary>Only the named ranker, weight 1, no sampling: a pipeline that shows one ranker's preference.</summary>
    public static PlacementPipeline Only(IHostRanker ranker) => new(PlacementPipeline.DefaultFilters(), [(ranker, 1.0)]);
}

/// <summary>A filter that lets every host through and counts how often it was asked: how many hosts a decision examined.</summary>
internal sealed class CountingFilter : IHostFilter
{
    public int Calls { get; private set; }

    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        Calls++;
        return null;
    }
}

/// <summary>A ranker that scores every host 0 and counts how often it was asked: how many hosts a decision ranked.</summary>
internal sealed class CountingRanker : IHostRanker
{
    public int Calls { get; private set; }

    public string Name => "counting";

    public double Score(PlacementCandidate candidate, PlacementRequest request)
    {
        Calls++;
        return 0;
    }
}
