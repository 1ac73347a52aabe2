using System.Collections.Frozen;
using NodeAgent.Metrics;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Scheduler.Metrics;

/// <summary>
/// The scheduler's metric families that are updated as things happen: placements and their latency, and every
/// gRPC call by method and status (as the <see cref="RpcServer"/>'s call observer). Owns the scheduler's
/// <see cref="MetricsRegistry"/>; <see cref="SchedulerStateCollector"/> adds what is read from the store at scrape time.
/// </summary>
public sealed class SchedulerMetrics : IRpcCallObserver, Store.ICommitObserver
{
    /// <summary>The method label of calls to paths no service implements: a client chooses those, so they share one series.</summary>
    public const string UnknownMethod = "unknown";

    private readonly Counter _placements;
    private readonly Counter _requests;
    private readonly Histogram _requestDuration;
    private readonly Histogram _commitWrites;
    private readonly Histogram _commitDuration;
    private FrozenSet<string> _methods = FrozenSet<string>.Empty;

    public SchedulerMetrics(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;
        _placements = registry.CreateCounter("nodeagent_scheduler_placements_total",
            "Leases the scheduler tried to place: outcome=\"placed\" got a host (and its addresses), outcome=\"refused\" failed for want of one.", "outcome");
        Placed = _placements.WithLabels("placed");
        Refused = _placements.WithLabels("refused");
        PlacementDuration = registry.CreateHistogram("nodeagent_scheduler_placement_duration_seconds",
            "Time of one placement decision: filtering and ranking every registered host for a new lease.",
            [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
        ExpiryWarnings = registry.CreateCounter("nodeagent_scheduler_lease_expiry_warnings_total",
            "Leases warned that they end soon (--expiry-warning before their end); a scheduler restart may warn a lease again.").WithLabels();
        _requests = registry.CreateCounter("nodeagent_scheduler_api_requests_total",
            "gRPC calls answered, by full method path and gRPC status name (OK, NOT_FOUND, ...).", "method", "code");
        _requestDuration = registry.CreateHistogram("nodeagent_scheduler_api_request_duration_seconds",
            "Time from a gRPC call's arrival to its status; streams (WatchLease, WatchDesiredWorkspaces) last as long as the watcher stays.",
            Histogram.SecondsBuckets, "method");
        _commitWrites = registry.CreateHistogram("nodeagent_scheduler_store_commit_writes",
            "Writes (a placement, a heartbeat written through, a release...) committed by one transaction: on SQLite every write that queued while the one writer was busy, on PostgreSQL one.",
            [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        _commitDuration = registry.CreateHistogram("nodeagent_scheduler_store_commit_duration_seconds",
            "Time of one write transaction, from its start to its commit. On SQLite there is one writer: the rate of this histogram's sum is the share of time it is busy, near 1 when writes queue behind it.",
            Histogram.SecondsBuckets);
        var version = typeof(SchedulerMetrics).Assembly.GetName().Version?.ToString(3) ?? "0";
        registry.CreateGauge("nodeagent_scheduler_build_info", "Always 1; the scheduler's version is in the label.", "version").WithLabels(version).Set(1);
        ProcessMetrics.AddTo(registry);
    }

    public MetricsRegistry Registry { get; }

    public Counter.Child Placed { get; }

    public Counter.Child Refused { get; }

    public Histogram PlacementDuration { get; }

    public Counter.Child ExpiryWarnings { get; }

    /// <summary>The methods the server implements: the only values of the method label besides <see cref="UnknownMethod"/>.</summary>
    public void UseMethods(IEnumerable<string> methods) => _methods = methods.ToFrozenSet(StringComparer.Ordinal);

    public void OnCallCompleted(string method, StatusCode status, TimeSpan elapsed)
    {
        var name = _methods.Contains(method) ? method : UnknownMethod;
        _requests.WithLabels(name, StatusName(status)).Inc();
        _requestDuration.WithLabels(name).Observe(elapsed.TotalSeconds);
    }

    public void Committed(int writes, TimeSpan took)
    {
        _commitWrites.Observe(writes);
        _commitDuration.Observe(took.TotalSeconds);
    }

    /// <summary>The status as gRPC's documents spell it: DEADLINE_EXCEEDED, not DeadlineExceeded.</summary>
    public static string StatusName(StatusCode status) => Enum.IsDefined(status) ? status.ToWireName() : "UNKNOWN";
}
