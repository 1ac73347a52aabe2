namespace NodeAgent.Scheduler.Domain;

/// <summary>A lease was asked to make a move its state does not allow; the message names the state and what to do.</summary>
public sealed class LeaseStateException : Exception
{
    public LeaseStateException(Lease lease, LeaseState to)
        : this(lease, $"lease {lease.Id} is {LeaseStateMachine.Name(lease.State)} and cannot become {LeaseStateMachine.Name(to)}")
    {
    }

    public LeaseStateException(Lease lease, string message)
        : base(message) => Lease = lease;

    public Lease Lease { get; }
}

/// <summary>
/// The lease lifecycle: pending → placing → starting → running → stopping → ended, and failed (with its
/// reason) from any state before ended. A running lease becomes stopped or paused, and either of them
/// running again, only when its owner asked for that power state (<see cref="Lease.Power"/>); stopped and
/// paused leases are still released, expire and fail like running ones. Every change of state goes through
/// <see cref="Move"/>.
/// </summary>
public static class LeaseStateMachine
{
    public static bool CanMove(LeaseState from, LeaseState to) => (from, to) switch
    {
        (LeaseState.Pending, LeaseState.Placing or LeaseState.Ended or LeaseState.Failed) => true,
        (LeaseState.Placing, LeaseState.Starting or LeaseState.Pending or LeaseState.Ended or LeaseState.Failed) => true,
        (LeaseState.Starting, LeaseState.Running or LeaseState.Stopping or LeaseState.Failed) => true,

        // Its host refused the workspace before making it: it is placed again.
        (LeaseState.Starting, LeaseState.Placing) => true,
        (LeaseState.Running, LeaseState.Stopped or LeaseState.Paused or LeaseState.Stopping or LeaseState.Failed) => true,
        (LeaseState.Stopped or LeaseState.Paused, LeaseState.Running or LeaseState.Stopping or LeaseState.Failed) => true,
        (LeaseState.Stopping, LeaseState.Ended or LeaseState.Failed) => true,
        _ => false,
    };

    /// <summary>
    /// Whether the power state the owner wants lets the lease enter <paramref name="to"/>: an agent's report
    /// can confirm what the owner asked for, never decide it.
    /// </summary>
    public static bool PowerAllows(Lease lease, LeaseState to) => (lease.State, to) switch
    {
        (_, LeaseState.Stopped) => lease.Power == PowerState.Stopped,
        (_, LeaseState.Paused) => lease.Power == PowerState.Paused,
        (LeaseState.Stopped or LeaseState.Paused, LeaseState.Running) => lease.Power == PowerState.Running,
        _ => true,
    };

    public static Lease Move(Lease lease, LeaseState to, string reason, DateTimeOffset now)
    {
        if (!CanMove(lease.State, to))
        {
            throw new LeaseStateException(lease, to);
        }

        if (!PowerAllows(lease, to))
        {
            throw new LeaseStateException(lease,
                $"lease {lease.Id} is {Name(lease.State)} and cannot become {Name(to)} while its owner wants it {lease.Power.ToString().ToLowerInvariant()}");
        }

        return lease with { State = to, Reason = reason, UpdatedAt = now };
    }

    public static string Name(LeaseState state) => state.ToString().ToLowerInvariant();
}
