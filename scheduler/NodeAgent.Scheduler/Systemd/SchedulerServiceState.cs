using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Service;

namespace NodeAgent.Scheduler.Systemd;

/// <summary>
/// What the scheduler tells systemd. Ready (READY=1) once the host has started: Kestrel listens on every gRPC address
/// and the image repository's listener, the repository's directory is in place, and the expiry, queue and drain loops
/// run. Its status line counts hosts and live leases.
/// </summary>
public sealed class SchedulerServiceState(HostRegistry hosts, LeaseManager leases) : IServiceState
{
    public Task WhenReadyAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>E.g. "3 of 4 hosts up, 17 live leases (2 queued)".</summary>
    public string Describe()
    {
        var all = hosts.List();
        var up = all.Count(h => hosts.HealthOf(h) == HostHealth.Up);
        // Counted by the database, not read: this runs every few seconds under systemd, with up to 100,000 live leases.
        var live = leases.CountLive();
        return $"{up} of {all.Count} hosts up, {live.Total} live leases ({live.Queued} queued)";
    }
}
