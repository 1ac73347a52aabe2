using NodeAgent.Scheduler.Domain;
using WorkspaceState = NodeAgent.Contract.V1.WorkspaceState;

namespace NodeAgent.Scheduler.Leases;

/// <summary>How a lease's state follows what its host's agent observes of the workspace.</summary>
public static class LeaseFollowsAgent
{
    /// <summary>The lease after <paramref name="observation"/>, or null when nothing changes.</summary>
    public static Lease? Next(Lease lease, WorkspaceObservation observation, DateTimeOffset now)
    {
        var host = lease.Host?.Value ?? "its host";
        var detail = string.IsNullOrWhiteSpace(observation.Message) ? string.Empty : ": " + observation.Message;
        return (lease.State, observation.State) switch
        {
            (LeaseState.Starting, WorkspaceState.Running) => LeaseStateMachine.Move(lease, LeaseState.Running, $"running on {host}", now),
            (LeaseState.Starting, WorkspaceState.Preparing or WorkspaceState.Starting) =>
                Progress(lease, $"{host} is {(observation.State == WorkspaceState.Preparing ? "preparing" : "starting")} the workspace{detail}", now),
            (LeaseState.Starting or LeaseState.Running, WorkspaceState.Failed) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace failed on {host}{detail}", now),
            (LeaseState.Starting or LeaseState.Running, WorkspaceState.Stopped) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace stopped on its own on {host}{detail}", now),
            (LeaseState.Starting or LeaseState.Running, WorkspaceState.Gone) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace disappeared from {host}{detail}", now),
            (LeaseState.Stopping, WorkspaceState.Gone) => LeaseStateMachine.Move(lease, LeaseState.Ended, $"{StoppingCause(lease)}; removed from {host}", now),
            (LeaseState.Stopping, WorkspaceState.Failed) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"removing the workspace failed on {host}{detail}", now),
            _ => null,
        };
    }

    private static Lease? Progress(Lease lease, string reason, DateTimeOffset now) =>
        lease.Reason == reason ? null : lease with { Reason = reason, UpdatedAt = now };

    private static string StoppingCause(Lease lease)
    {
        var separator = lease.Reason.IndexOf(';', StringComparison.Ordinal);
        return separator > 0 ? lease.Reason[..separator] : lease.Reason;
    }
}
