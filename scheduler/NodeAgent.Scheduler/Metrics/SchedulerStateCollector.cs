using NodeAgent.Metrics;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Leases;

namespace NodeAgent.Scheduler.Metrics;

/// <summary>
/// The scheduler's state at each scrape, read from the store: live leases by state, hosts by health, and the queue
/// of leases waiting for a host. Every state and health is exported, 0 when nothing is in it, so a series never
/// vanishes and reappears. Ended and failed leases are history, not state: they are not counted here.
/// </summary>
public sealed class SchedulerStateCollector
{
    private static readonly LeaseState[] LiveStates = [.. Enum.GetValues<LeaseState>().Where(s => s is not (LeaseState.Ended or LeaseState.Failed))];

    private readonly LeaseManager _leases;
    private readonly HostRegistry _hosts;
    private readonly CollectedFamily _leasesByState;
    private readonly CollectedFamily _hostsByHealth;
    private readonly CollectedFamily _queue;

    public SchedulerStateCollector(MetricsRegistry registry, LeaseManager leases, HostRegistry hosts)
    {
        ArgumentNullException.ThrowIfNull(registry);
        (_leases, _hosts) = (leases, hosts);
        _leasesByState = registry.CreateCollected(MetricType.Gauge, "nodeagent_scheduler_leases", "Live leases (not ended or failed) by state.", "state");
        _hostsByHealth = registry.CreateCollected(MetricType.Gauge, "nodeagent_scheduler_hosts", "Registered hosts by health: up, down (no recent heartbeat) or degraded (the agent says it cannot take work).", "health");
        _queue = registry.CreateCollected(MetricType.Gauge, "nodeagent_scheduler_queue_length",
            "Best-effort leases waiting in the queue for a host (state pending); reservations waiting for their start are not counted.");
        registry.AddCollector("scheduler-state", Collect);
    }

    public void Collect(Scrape scrape)
    {
        ArgumentNullException.ThrowIfNull(scrape);
        // Counted by the database: a scrape reads no lease, so it costs the same with 100 live leases as with 100,000.
        var live = _leases.CountLive();
        foreach (var state in LiveStates)
        {
            scrape.Add(_leasesByState, live.ByState.GetValueOrDefault(state), Name(state));
        }

        scrape.Add(_queue, live.Queued);
        var health = _hosts.List().GroupBy(_hosts.HealthOf).ToDictionary(g => g.Key, g => g.Count());
        foreach (var value in Enum.GetValues<HostHealth>())
        {
            scrape.Add(_hostsByHealth, health.GetValueOrDefault(value), Name(value));
        }
    }

    private static string Name<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();
}
