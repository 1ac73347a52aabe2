using NodeAgent.Scheduler.Domain;
using WorkspaceState = NodeAgent.Contract.V1.WorkspaceState;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// How a lease's state follows what its host's agent observes of the workspace, given the power state the
/// owner wants (<see cref="Lease.Power"/>). What the scheduler expects an agent to report:
/// <list type="bullet">
/// <item>Stop (running wanted → stopped wanted): optionally <c>Stopping</c> while the guest shuts down, then
/// <c>Stopped</c>; the lease becomes stopped. A <c>Running</c> report before that changes nothing.</item>
/// <item>Start (stopped → running wanted): optionally <c>Preparing</c>/<c>Starting</c>, then <c>Running</c>.
/// A <c>Stopped</c> report before that changes nothing.</item>
/// <item>Pause / resume: <c>Paused</c>, respectively <c>Running</c>; earlier reports of the old state change nothing.</item>
/// <item>Reboot (<c>WorkspaceSpec.reboot_count</c> grew): any of <c>Stopping</c>, <c>Stopped</c>,
/// <c>Starting</c>, then <c>Running</c> with <c>WorkspaceStatus.reboot_count</c> raised to the spec's count.
/// Until that count arrives, stop and start reports are the reboot's steps and do not fail the lease.</item>
/// </list>
/// Every report's <c>reboot_count</c> raises the lease's reboots done (never lowers it, never past the reboots
/// asked for). Outside those changes, as before: <c>Failed</c> or <c>Gone</c> fail a placed lease, and
/// <c>Stopped</c> while running is wanted (and no reboot is pending) fails it — the guest stopped on its own.
/// A <c>Paused</c> report while running is wanted keeps the lease running and says in its reason that the
/// workspace was paused outside NodeAgent: libvirt pauses a guest on a disk I/O error or an operator may have
/// run <c>virsh suspend</c>; its memory and disk are intact, so failing the lease would throw work away, and
/// calling it paused would claim the owner asked. The next <c>Running</c> report restores "running on".
/// </summary>
public static class LeaseFollowsAgent
{
    /// <summary>The lease after <paramref name="observation"/>, or null when nothing changes.</summary>
    public static Lease? Next(Lease lease, WorkspaceObservation observation, DateTimeOffset now)
    {
        var counted = CountReboots(lease, observation.RebootCount, now);
        return NextState(counted, observation, now) ?? (ReferenceEquals(counted, lease) ? null : counted);
    }

    private static Lease? NextState(Lease lease, WorkspaceObservation observation, DateTimeOffset now)
    {
        var host = lease.Host?.Value ?? "its host";
        var detail = string.IsNullOrWhiteSpace(observation.Message) ? string.Empty : ": " + observation.Message;
        var placed = lease.State is LeaseState.Starting or LeaseState.Running or LeaseState.Stopped or LeaseState.Paused;
        return (lease.State, lease.Power, observation.State) switch
        {
            (_, _, WorkspaceState.Failed) when placed =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace failed on {host}{detail}", now),
            (_, _, WorkspaceState.Gone) when placed =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace disappeared from {host}{detail}", now),

            // The first start, and a start of a stopped workspace, look the same on the host.
            (LeaseState.Starting, _, WorkspaceState.Running) or (LeaseState.Stopped or LeaseState.Paused, PowerState.Running, WorkspaceState.Running) =>
                LeaseStateMachine.Move(lease, LeaseState.Running, $"running on {host}", now),
            (LeaseState.Starting, _, WorkspaceState.Preparing or WorkspaceState.Starting) or (LeaseState.Stopped, PowerState.Running, WorkspaceState.Preparing or WorkspaceState.Starting) =>
                Progress(lease, $"{host} is {(observation.State == WorkspaceState.Preparing ? "preparing" : "starting")} the workspace{detail}", now),

            // The owner's stop and pause, confirmed.
            (LeaseState.Running, PowerState.Stopped, WorkspaceState.Stopped) => LeaseStateMachine.Move(lease, LeaseState.Stopped, $"stopped on {host}{detail}", now),
            (LeaseState.Running, PowerState.Paused, WorkspaceState.Paused) => LeaseStateMachine.Move(lease, LeaseState.Paused, $"paused on {host}", now),

            // A reboot's steps.
            (LeaseState.Running, PowerState.Running, WorkspaceState.Stopping or WorkspaceState.Stopped or WorkspaceState.Starting) when lease.RebootPending =>
                Progress(lease, $"{host} is rebooting the workspace ({StepName(observation.State)})", now),

            (LeaseState.Starting or LeaseState.Running or LeaseState.Paused, _, WorkspaceState.Stopped) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"the workspace stopped on its own on {host}{detail}", now),

            // Steady running, or what happened to the workspace outside NodeAgent.
            (LeaseState.Running, PowerState.Running, WorkspaceState.Running) when !lease.RebootPending => Progress(lease, $"running on {host}", now),
            (LeaseState.Running, PowerState.Running, WorkspaceState.Paused) => Progress(lease, $"paused on {host} outside NodeAgent{detail}", now),
            (LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Running) => Progress(lease, $"started on {host} outside NodeAgent; its owner wants it stopped", now),
            (LeaseState.Paused, PowerState.Paused, WorkspaceState.Running) => Progress(lease, $"resumed on {host} outside NodeAgent; its owner wants it paused", now),

            (LeaseState.Stopping, _, WorkspaceState.Gone) => LeaseStateMachine.Move(lease, LeaseState.Ended, $"{StoppingCause(lease)}; removed from {host}", now),
            (LeaseState.Stopping, _, WorkspaceState.Failed) =>
                LeaseStateMachine.Move(lease, LeaseState.Failed, $"removing the workspace failed on {host}{detail}", now),
            _ => null,
        };
    }

    /// <summary>Raises the reboots done to what the agent reports, never lowering it and never past what was asked.</summary>
    private static Lease CountReboots(Lease lease, long reported, DateTimeOffset now)
    {
        var done = Math.Min(reported, lease.RebootsRequested);
        return done > lease.RebootsDone ? lease with { RebootsDone = done, UpdatedAt = now } : lease;
    }

    private static string StepName(WorkspaceState state) => state switch
    {
        WorkspaceState.Stopping => "stopping",
        WorkspaceState.Stopped => "stopped, starting again",
        _ => "starting",
    };

    private static Lease? Progress(Lease lease, string reason, DateTimeOffset now) =>
        lease.Reason == reason ? null : lease with { Reason = reason, UpdatedAt = now };

    private static string StoppingCause(Lease lease)
    {
        var separator = lease.Reason.IndexOf(';', StringComparison.Ordinal);
        return separator > 0 ? lease.Reason[..separator] : lease.Reason;
    }
}
