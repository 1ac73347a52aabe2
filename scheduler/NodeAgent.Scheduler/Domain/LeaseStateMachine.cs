namespace NodeAgent.Scheduler.Domain;

/// <summary>A lease was asked to make a move its state does not allow.</summary>
public sealed class LeaseStateException(Lease lease, LeaseState to)
    : Exception($"lease {lease.Id} is {lease.State.ToString().ToLowerInvariant()} and cannot become {to.ToString().ToLowerInvariant()}")
{
    public Lease Lease { get; } = lease;
}

/// <summary>
/// The lease lifecycle: pending → placing → starting → running → stopping → ended, and failed (with its
/// reason) from any state before ended. Every change of state goes through <see cref="Move"/>.
/// </summary>
public static class LeaseStateMachine
{
    public static bool CanMove(LeaseState from, LeaseState to) => (from, to) switch
    {
        (LeaseState.Pending, LeaseState.Placing or LeaseState.Ended or LeaseState.Failed) => true,
        (LeaseState.Placing, LeaseState.Starting or LeaseState.Pending or LeaseState.Ended or LeaseState.Failed) => true,
        (LeaseState.Starting, LeaseState.Running or LeaseState.Stopping or LeaseState.Failed) => true,
        (LeaseState.Running, LeaseState.Stopping or LeaseState.Failed) => true,
        (LeaseState.Stopping, LeaseState.Ended or LeaseState.Failed) => true,
        _ => false,
    };

    public static Lease Move(Lease lease, LeaseState to, string reason, DateTimeOffset now) =>
        CanMove(lease.State, to)
            ? lease with { State = to, Reason = reason, UpdatedAt = now }
            : throw new LeaseStateException(lease, to);
}
