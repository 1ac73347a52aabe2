using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Service;

namespace NodeAgent.Agent.Systemd;

/// <summary>
/// What the agent tells systemd. Ready (READY=1) once the host has started every service (the reconciler runs,
/// /metrics listens, domain events are watched) and the first registration with the scheduler has been answered,
/// whether it succeeded or failed: a host whose scheduler is down must still come up, keep its workspaces running and
/// end expired ones on its own, and systemd would kill a service that never becomes ready. Waiting for that first
/// answer (at most one call timeout) lets a normal start say "scheduler connected" from the first status on.
/// </summary>
public sealed class AgentServiceState(SchedulerConnection scheduler, WorkspaceInventory inventory, IHypervisor hypervisor) : IServiceState
{
    public Task WhenReadyAsync(CancellationToken cancellationToken) => scheduler.FirstAttempt.WaitAsync(cancellationToken);

    /// <summary>E.g. "12 workspaces, scheduler connected" or "3 workspaces, scheduler unreachable, libvirt unavailable".</summary>
    public string Describe()
    {
        var link = scheduler.State switch
        {
            SchedulerLinkState.Connected => "scheduler connected",
            SchedulerLinkState.Unreachable => "scheduler unreachable",
            _ => "connecting to the scheduler",
        };
        var count = inventory.Held.Count;
        var text = $"{count} {(count == 1 ? "workspace" : "workspaces")}, {link}";
        return hypervisor.Unavailable is null ? text : text + ", libvirt unavailable";
    }
}
