using NodeAgent.Contract;
using System.Collections.Frozen;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Placement;

/// <summary>Whether an operator lets the scheduler place new workspaces on a host (its admin state, apart from health).</summary>
public enum HostSchedule
{
    /// <summary>New workspaces may be placed on the host.</summary>
    Enabled,

    /// <summary>An admin took the host out of placement; its workspaces keep running.</summary>
    Disabled,

    /// <summary>The host is being emptied: no new workspaces, and the ones it runs are moving or ending.</summary>
    Draining,

    /// <summary>A drain finished (or failed at its deadline): the host takes nothing new until an admin enables it.</summary>
    Drained,
}

/// <summary>A host as placement sees it: its record, health and admin state now, what is still free on it, and what it runs.</summary>
public sealed record PlacementCandidate(HostRecord Host, HostHealth Health, Resources Free)
{
    /// <summary>The sha256 digests of the images in the host's cache, as its agent last reported.</summary>
    public IReadOnlySet<string> CachedImages { get; init; } = FrozenSet<string>.Empty;

    /// <summary>No groups: shared, since most candidates have none.</summary>
    public static readonly IReadOnlySet<string> NoGroups = FrozenSet<string>.Empty;

    /// <summary>No spread-group leases: shared, since most candidates have none.</summary>
    public static readonly IReadOnlyDictionary<string, int> NoSpread = FrozenDictionary<string, int>.Empty;

    /// <summary>The host's admin state; only <see cref="HostSchedule.Enabled"/> hosts get new workspaces.</summary>
    public HostSchedule Schedule { get; init; } = Host.Admin.State switch
    {
        HostAdminState.Enabled => HostSchedule.Enabled,
        HostAdminState.Draining => HostSchedule.Draining,
        HostAdminState.Drained or HostAdminState.DrainFailed => HostSchedule.Drained,
        _ => HostSchedule.Disabled,
    };

    /// <summary>
    /// What advance reservations need of the host, beyond <see cref="Free"/>, at the busiest moment of the lease's time
    /// there (see <see cref="ReservationFilter"/>); none when no reservation on the host overlaps it.
    /// </summary>
    public Resources Reserved { get; init; } = Resources.None;

    /// <summary>The anti-affinity groups that have a live lease on this host.</summary>
    public IReadOnlySet<string> AntiAffinityGroups { get; init; } = NoGroups;

    /// <summary>How many live leases of each spread group the host runs; a group it runs none of is absent.</summary>
    public IReadOnlyDictionary<string, int> SpreadGroupLeases { get; init; } = NoSpread;

    /// <summary>
    /// The host's CPU utilization from 0 to 1: a <see cref="LoadAverage"/> when the caller keeps one, else the
    /// last heartbeat's figure.
    /// </summary>
    public double CpuLoad { get; init; } = LoadAverage.Clamp01(Host.Load.CpuUtilization);

    /// <summary>
    /// 1 - available memory / capacity, from 0 to 1: a <see cref="LoadAverage"/> when the caller keeps one, else
    /// computed from the last heartbeat. A host that has not reported its available memory yet (0, as at
    /// registration) counts what its leases are allocated instead of looking full.
    /// </summary>
    public double MemoryPressure { get; init; } = MemoryPressureOf(Host, Free);

    /// <summary>
    /// The host's id, copied from <see cref="Host"/>: choosing names and orders hosts by it, and reads the candidate
    /// alone rather than the row and registration behind it.
    /// </summary>
    public HostId Id { get; } = Host.Id;

    /// <summary>What the host has in all (its agent's last report): copied from <see cref="Host"/> so ranking reads the candidate alone.</summary>
    public Resources Capacity { get; init; } = Host.Registration.Capacity;

    /// <summary>When the host's last heartbeat arrived; copied from <see cref="Host"/> for <see cref="HealthAt"/>.</summary>
    public DateTimeOffset? LastHeartbeatAt { get; init; } = Host.LastHeartbeatAt;

    /// <summary>Whether the host's agent said it cannot take new work; copied from <see cref="Host"/> for <see cref="HealthAt"/>.</summary>
    public bool Degraded { get; init; } = Host.DegradedReason.Length > 0;

    /// <summary>
    /// The host's health at <paramref name="now"/> from what the candidate copied of its row, as
    /// <see cref="HostRecord.HealthAt"/> gives it: a candidate kept between placements is read without its row.
    /// </summary>
    public HostHealth HealthAt(DateTimeOffset now, TimeSpan ttl) => HostRecord.HealthOf(LastHeartbeatAt, Degraded, now, ttl);

    /// <summary>The host after a workspace of <paramref name="request"/> was placed on it: its claim taken from what is free, its groups counted.</summary>
    public PlacementCandidate After(PlacementRequest request)
    {
        var claim = request.Resources;
        var after = this with { Free = new Resources(Free.Vcpus - claim.Vcpus, Free.MemoryBytes - claim.MemoryBytes, Free.DiskBytes - claim.DiskBytes) };
        if (request.AntiAffinityGroup is { } anti)
        {
            after = after with { AntiAffinityGroups = new HashSet<string>(AntiAffinityGroups, StringComparer.Ordinal) { anti } };
        }

        if (request.SpreadGroup is { } spread)
        {
            after = after with { SpreadGroupLeases = new Dictionary<string, int>(SpreadGroupLeases, StringComparer.Ordinal) { [spread] = SpreadGroupLeases.GetValueOrDefault(spread) + 1 } };
        }

        return after;
    }

    /// <summary>The memory pressure of the host's last heartbeat, or of what its leases are allocated before it reported available memory.</summary>
    public static double MemoryPressureOf(HostRecord host, Resources free) => LoadAverage.PressureOf(
        host.Load.MemoryAvailableBytes > 0 ? host.Load.MemoryAvailableBytes : free.MemoryBytes, host.Registration.Capacity.MemoryBytes);
}

/// <summary>
/// What is being placed: the workspace's resources, the network it needs a bridge for (null: none), and the
/// constraints and preferences of its deployment.
/// </summary>
public sealed record PlacementRequest(Resources Resources, string? Network = null)
{
    /// <summary>The digest of the workspace's disk image; null when unknown.</summary>
    public string? ImageSha256 { get; init; }

    /// <summary>The CPU architecture the workspace needs (e.g. x86_64, aarch64; amd64 and arm64 are read as those); null: any.</summary>
    public string? Architecture { get; init; }

    /// <summary>Features every chosen host must announce, e.g. "gpu".</summary>
    public IReadOnlyList<string> RequiredFeatures { get; init; } = [];

    /// <summary>Labels (key = value) every chosen host must carry, e.g. rack = r1.</summary>
    public IReadOnlyDictionary<string, string> RequiredLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>No two live leases of this group share a host (a hard rule); null: no group.</summary>
    public string? AntiAffinityGroup { get; init; }

    /// <summary>Leases of this group are spread over hosts where possible (a preference, not a rule); null: no group.</summary>
    public string? SpreadGroup { get; init; }

    /// <summary>Hosts whose agents refused this workspace before; never chosen for it again.</summary>
    public IReadOnlySet<string> RefusedBy { get; init; } = new HashSet<string>();
}

/// <summary>Answers "can this host take the workspace?"; when not, names why with one of <see cref="RejectReasons"/>.</summary>
public interface IHostFilter
{
    /// <summary>Null when the host can take the workspace; otherwise the reason, counted per value, so keep it low-cardinality.</summary>
    string? Reject(PlacementCandidate candidate, PlacementRequest request);
}

/// <summary>Scores a feasible host from 0 (worst) to 1 (best) on one aspect.</summary>
public interface IHostRanker
{
    /// <summary>The name operators weigh it by (see <see cref="RankerNames"/>) and explanations show.</summary>
    string Name { get; }

    double Score(PlacementCandidate candidate, PlacementRequest request);
}
