using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Placing an immediate lease in two steps, as Omega and Nomad do: the choice is made outside the write, on the
/// hosts as last committed, where many requests can choose at once; the write then only checks that the chosen
/// host can still take the lease (every filter again, on the host as the transaction sees it) and claims it. A host
/// that another claim filled meanwhile is not taken: the write chooses again. Writes are one at a time, so the
/// check and the claim cannot be separated by another claim.
/// </summary>
public sealed partial class LeaseManager
{
    /// <summary>The host placement would choose for <paramref name="pending"/> now, from a read (its host is null when none can take it).</summary>
    private PlannedHost Plan(Lease pending, DateTimeOffset now)
    {
        var placing = LeaseStateMachine.Move(pending, LeaseState.Placing, "choosing a host", now);
        return new PlannedHost(store.Read(session => Decide(session, placing, PlacementRequestFor(placing), now, timed: true).Host));
    }

    /// <summary>Chooses among every host, with the reservations in the lease's time set aside; <paramref name="timed"/> puts its time in the placement-duration metric.</summary>
    private PlacementDecision Decide(ILeaseSession session, Lease placing, PlacementRequest wanted, DateTimeOffset now, bool timed)
    {
        var candidates = WithReservations(session, Candidates(session, now, wanted), now, now + placing.RunFor, placing.Id);
        var deciding = time.GetTimestamp();
        var decision = placement.Decide(candidates, wanted);
        if (timed)
        {
            metrics?.PlacementDuration.Observe(time.GetElapsedTime(deciding).TotalSeconds);
        }

        return decision;
    }

    /// <summary>Whether <paramref name="host"/>, as the session sees it, passes every filter for the lease.</summary>
    private bool StillTakes(ILeaseSession session, HostId host, Lease placing, PlacementRequest wanted, DateTimeOffset now)
    {
        if (session.FindHost(host) is not { } record)
        {
            return false;
        }

        var candidate = WithReservations(session, Candidates(session, [record], now, wanted), now, now + placing.RunFor, placing.Id)[0];
        return placement.Reject(candidate, wanted) is null;
    }
}

/// <summary>The host chosen outside the write for a lease (null: none could take it then).</summary>
internal readonly record struct PlannedHost(HostId? Host);
