using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>A host's agent refused a workspace (it did not fit what the host had): the lease is placed on another host.</summary>
public sealed partial class LeaseManager
{
    /// <summary>
    /// Places a starting lease whose host refused it on another host, never on one that refused it before; fails it,
    /// naming the refusal and why no other host can take it, when none can. The refusing host's desired set drops it.
    /// Returns the lease as changed, or null when the refusal came too late to mean anything (the lease is past starting).
    /// </summary>
    private Lease? PlaceElsewhere(ILeaseSession session, Lease lease, HostId refusing, string why, DateTimeOffset now)
    {
        if (lease.State != LeaseState.Starting)
        {
            return null;
        }

        var refusal = why.Length == 0 ? $"{refusing} refused it" : $"{refusing} refused it ({why})";
        var placing = LeaseStateMachine.Move(lease, LeaseState.Placing, refusal + "; choosing another host", now) with
        {
            Host = null,
            RefusedBy = new ValueList<string>(lease.RefusedBy.Append(refusing.Value).Distinct(StringComparer.Ordinal)),
        };
        var wanted = PlacementRequestFor(placing);
        var decision = placement.Decide(WithReservations(session, Candidates(session, now, wanted), now, placing.ExpiresAt, placing.Id), wanted);
        session.BumpDesiredVersion(refusing);
        Lease next;
        if (decision.Host is { } host)
        {
            CountPlaced(session);
            next = LeaseStateMachine.Move(placing, LeaseState.Starting, $"placed on {host} after {refusal}; waiting for the host to start it", now) with { Host = host };
            session.BumpDesiredVersion(host);
        }
        else
        {
            CountRefused(session);
            next = LeaseStateMachine.Move(placing, LeaseState.Failed, $"{refusal}, and {decision.Explain()}", now);
        }

        Save(session, next, now);
        return next;
    }
}
