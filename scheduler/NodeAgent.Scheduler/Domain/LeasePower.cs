namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// What an owner's power action does to a lease: which states allow it, the power state the lease then
/// wants, and the reason it shows until its host confirms. The lease's state itself moves only when the
/// agent reports the workspace stopped, paused or running (<see cref="Leases.LeaseFollowsAgent"/>).
/// <list type="bullet">
/// <item>stop and pause from running; start from stopped; resume from paused; reboot from running.</item>
/// <item>Asking for the power state already wanted changes nothing (stop on a stopped lease, or on one being
/// stopped); reboot always asks for one more reboot.</item>
/// <item>While a change is under way (stopping, starting, pausing, resuming, rebooting, or the first start) any
/// other action is refused: the agent may be half way, and reversing it mid-step would race its reports.</item>
/// </list>
/// </summary>
public static class LeasePower
{
    /// <summary>The lease after <paramref name="action"/>: the same instance when nothing changes.</summary>
    /// <exception cref="LeaseStateException">The action does not fit the lease's state; the message says what would.</exception>
    public static Lease Apply(Lease lease, PowerAction action, DateTimeOffset now)
    {
        var id = lease.Id;
        var host = lease.Host?.Value ?? "its host";
        var verb = Verb(action);
        switch (lease.State)
        {
            case LeaseState.Pending or LeaseState.Placing:
                throw new LeaseStateException(lease, $"lease {id} is {LeaseStateMachine.Name(lease.State)} and not on a host yet; wait until it runs (`ws show {id}`), then {verb} it");
            case LeaseState.Stopping:
                throw new LeaseStateException(lease, $"lease {id} is stopping for good ({lease.Reason}); `ws lease` leases a new workspace");
            case LeaseState.Ended or LeaseState.Failed:
                throw new LeaseStateException(lease, $"lease {id} has {LeaseStateMachine.Name(lease.State)} ({lease.Reason}); `ws lease` leases a new workspace");
        }

        var target = action switch
        {
            PowerAction.Stop => PowerState.Stopped,
            PowerAction.Pause => PowerState.Paused,
            _ => PowerState.Running,
        };
        if (action != PowerAction.Reboot && lease.Power == target)
        {
            return lease;
        }

        // Another reboot may be asked for while one is pending; anything else waits for the change under way.
        var moreReboots = action == PowerAction.Reboot && lease is { State: LeaseState.Running, Power: PowerState.Running };
        if (!moreReboots && InProgress(lease) is { } underway)
        {
            throw new LeaseStateException(lease, $"lease {id} is {underway}; wait until that is done (`ws show {id}`), then {verb} it");
        }

        // Settled from here: running (wants running, no reboot pending), stopped (wants stopped) or paused (wants paused).
        return (lease.State, action) switch
        {
            (LeaseState.Running, PowerAction.Stop) => Want(lease, PowerState.Stopped, $"stopping on {host} at the owner's request", now),
            (LeaseState.Running, PowerAction.Pause) => Want(lease, PowerState.Paused, $"pausing on {host} at the owner's request", now),
            (LeaseState.Running, PowerAction.Reboot) =>
                lease with { RebootsRequested = lease.RebootsRequested + 1, Reason = $"rebooting on {host} at the owner's request", UpdatedAt = now },
            (LeaseState.Stopped, PowerAction.Start) => Want(lease, PowerState.Running, $"starting on {host} at the owner's request", now),
            (LeaseState.Stopped, _) => throw new LeaseStateException(lease, $"lease {id} is stopped; `ws start {id}` starts it"),
            (LeaseState.Paused, PowerAction.Resume) => Want(lease, PowerState.Running, $"resuming on {host} at the owner's request", now),
            (LeaseState.Paused, PowerAction.Stop or PowerAction.Reboot) =>
                throw new LeaseStateException(lease, $"lease {id} is paused; `ws resume {id}` resumes it, then `ws {verb} {id}` can {verb} it"),
            (LeaseState.Paused, _) => throw new LeaseStateException(lease, $"lease {id} is paused; `ws resume {id}` resumes it"),
            _ => throw new LeaseStateException(lease, $"lease {id} is {LeaseStateMachine.Name(lease.State)} and cannot {verb}"),
        };
    }

    /// <summary>What the lease is in the middle of, in words, or null when it is settled.</summary>
    public static string? InProgress(Lease lease)
    {
        var host = lease.Host?.Value ?? "its host";
        return (lease.State, lease.Power) switch
        {
            (LeaseState.Starting, _) => $"starting on {host} for the first time",
            (LeaseState.Running, PowerState.Stopped) => $"being stopped on {host} at the owner's request",
            (LeaseState.Running, PowerState.Paused) => $"being paused on {host} at the owner's request",
            (LeaseState.Running, _) when lease.RebootPending => $"rebooting on {host} at the owner's request",
            (LeaseState.Stopped, PowerState.Running) => $"being started on {host} at the owner's request",
            (LeaseState.Paused, PowerState.Running) => $"being resumed on {host} at the owner's request",
            _ => null,
        };
    }

    public static string Verb(PowerAction action) => action.ToString().ToLowerInvariant();

    private static Lease Want(Lease lease, PowerState power, string reason, DateTimeOffset now) =>
        lease with { Power = power, Reason = reason, UpdatedAt = now };
}
