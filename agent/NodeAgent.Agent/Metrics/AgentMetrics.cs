using NodeAgent.Metrics;

namespace NodeAgent.Agent.Metrics;

/// <summary>
/// The agent's own health as metric families, updated where things happen: reconcile durations, libvirt errors,
/// the scheduler connection, and the build. Owns the agent's <see cref="MetricsRegistry"/>, which the collectors
/// (<see cref="WorkspaceStatsCollector"/>, <see cref="HostCollector"/>) add their families to.
/// </summary>
public sealed class AgentMetrics
{
    public AgentMetrics(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;
        var reconcile = registry.CreateHistogram("nodeagent_reconcile_duration_seconds",
            "Time of one reconcile: kind=\"pass\" compares the desired set with libvirt and starts drives; kind=\"workspace\" is one workspace's drive to its wanted state (those that finished).",
            Histogram.SecondsBuckets, "kind");
        ReconcilePass = reconcile.WithLabels("pass");
        WorkspaceDrive = reconcile.WithLabels("workspace");
        LibvirtErrors = registry.CreateCounter("nodeagent_libvirt_errors_total",
            "libvirt calls that failed, including expected ones (a domain gone between listing and looking it up) and lost connections.");
        SchedulerConnected = registry.CreateGauge("nodeagent_scheduler_connected",
            "1 while the agent is registered with the scheduler and its heartbeats go through, 0 while it retries.");
        var version = typeof(AgentMetrics).Assembly.GetName().Version?.ToString(3) ?? "0";
        registry.CreateGauge("nodeagent_build_info", "Always 1; the agent's version is in the label.", "version").WithLabels(version).Set(1);
        ProcessMetrics.AddTo(registry);
    }

    public MetricsRegistry Registry { get; }

    public Histogram.Child ReconcilePass { get; }

    public Histogram.Child WorkspaceDrive { get; }

    public Counter LibvirtErrors { get; }

    public Gauge SchedulerConnected { get; }
}
