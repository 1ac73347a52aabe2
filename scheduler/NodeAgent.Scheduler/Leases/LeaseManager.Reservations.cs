using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Advance reservations: admission on one host that can keep the whole window, the start at the window's start, and
/// the rule that an extension may not take what a reservation needs. Placement of other leases leaves reserved
/// capacity alone (<see cref="ReservationFilter"/>), so an admitted window stays free.
/// </summary>
public sealed partial class LeaseManager
{
    private const string NoHostPrefix = "no host can take it";

    /// <summary>
    /// Starts every reservation whose start has come, on its reserved host, in one transaction; returns how many
    /// started. One whose host cannot take it then (down, degraded, drained, or short of capacity because something
    /// outside NodeAgent took it) fails with the reason: it is not moved to another host behind its owner's back.
    /// </summary>
    public async Task<int> StartDueReservationsAsync(CancellationToken cancellationToken)
    {
        var now = Now();
        if (!store.Read(s => s.ReservationsDue(now)).Any(r => r.ExpiresAt > now))
        {
            return 0;
        }

        var changed = await store.WriteAsync(session =>
            session.ReservationsDue(now).Where(r => r.ExpiresAt > now).Select(r => StartReservation(session, r, now)).ToList(), cancellationToken);
        Announce(changed);
        return changed.Count(l => l.State == LeaseState.Starting);
    }

    /// <summary>The reservation's window must lie ahead, and end within the longest lifetime from now.</summary>
    private static Lease CheckWindow(Lease reservation, DateTimeOffset now)
    {
        var start = reservation.StartAt!.Value;
        if (start <= now)
        {
            throw new ArgumentOutOfRangeException(nameof(reservation),
                $"start {start:u} is not in the future (the scheduler's time is {now:u}); give a later start, or leave start out to lease now");
        }

        if (reservation.ExpiresAt - now > MaxLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(reservation),
                $"the window would end {reservation.ExpiresAt:u}, more than {MaxLifetime.TotalDays:0} days from now; give an earlier start or a shorter duration");
        }

        return reservation;
    }

    /// <summary>A reservation: admitted on the host placement picks among those that can keep its whole window, or refused.</summary>
    private Lease Reserve(ILeaseSession session, Lease pending, DateTimeOffset now)
    {
        var (reserved, refusal) = TryReserve(session, pending, now);
        if (reserved is null)
        {
            CountRefused(session);
            var refused = LeaseStateMachine.Move(pending, LeaseState.Failed, refusal!, now);
            session.Insert(refused);
            return refused;
        }

        session.Insert(reserved);
        return reserved;
    }

    /// <summary>The reservation with its host, or why no host can keep its window; nothing is written.</summary>
    private (Lease? Reserved, string? Refusal) TryReserve(ILeaseSession session, Lease pending, DateTimeOffset now)
    {
        session.LockReservations();
        var wanted = PlacementRequestFor(pending);
        var (start, end) = (pending.StartAt!.Value, pending.ExpiresAt);
        var decision = placement.Decide(ForWindow(session, Candidates(session, now, wanted), start, end), wanted);
        return decision.Host is { } host
            ? (pending with { Host = host, Reason = $"reserved on {host} from {start:u} until {end:u}; it starts then" }, null)
            : (null, WindowRefusal(pending, decision));
    }

    /// <summary>
    /// The candidates as a window [<paramref name="start"/>, <paramref name="end"/>) sees them: free is what the leases
    /// still running at its start leave, and the reservations in it are set aside at their busiest moment.
    /// </summary>
    private static List<PlacementCandidate> ForWindow(ILeaseSession session, IReadOnlyList<PlacementCandidate> candidates, DateTimeOffset start, DateTimeOffset end)
    {
        var held = session.HoldingAfter(start).ToLookup(l => l.Host!.Value);
        var reservations = session.ReservationsOverlapping(start, end).ToLookup(r => r.Host!.Value);
        return candidates.Select(c =>
        {
            var timeline = new HostTimeline(c.Host, held[c.Host.Id], reservations[c.Host.Id]);
            var heldAtStart = timeline.HeldAt(start);
            return c with
            {
                Free = HostTimeline.Beyond(timeline.Capacity, heldAtStart),
                Reserved = HostTimeline.Beyond(timeline.PeakOver(start, end), heldAtStart),
            };
        }).ToList();
    }

    /// <summary>
    /// Starts one reservation on its host: the host must take it now as placement would (up, enabled, its rules
    /// kept), with the capacity of leases whose time is up counted as free, since their removal is under way.
    /// </summary>
    private Lease StartReservation(ILeaseSession session, Lease reservation, DateTimeOffset now)
    {
        session.LockReservations();
        var hostId = reservation.Host!.Value;
        var placing = LeaseStateMachine.Move(reservation, LeaseState.Placing, $"starting on its reserved host {hostId}", now);
        var wanted = PlacementRequestFor(reservation);
        var candidate = Candidates(session, now, wanted).SingleOrDefault(c => c.Host.Id == hostId);
        if (candidate is null)
        {
            return Fail(session, placing, $"its reserved host {hostId} is no longer registered", now);
        }

        var held = session.LiveLeasesOn(hostId).Where(l => l.HoldsCapacity && l.State != LeaseState.Stopping && l.ExpiresAt > now);
        var others = session.ReservationsOverlapping(now, reservation.ExpiresAt).Where(r => r.Host == hostId && r.Id != reservation.Id);
        var timeline = new HostTimeline(candidate.Host, held, others);
        var heldNow = timeline.HeldAt(now);
        candidate = candidate with
        {
            Free = HostTimeline.Beyond(timeline.Capacity, heldNow),
            Reserved = HostTimeline.Beyond(timeline.PeakOver(now, reservation.ExpiresAt), heldNow),
            AntiAffinityGroups = OtherAntiAffinity(session, reservation),
        };

        var decision = placement.Decide([candidate], wanted);
        if (decision.Host is null)
        {
            return Fail(session, placing, $"its reserved host {hostId} cannot start it at its start ({reservation.StartAt:u}): {Rejections(decision)}", now);
        }

        ValueList<NetworkAttachment> nics = [];
        if (placing.WantedNetwork is { } name)
        {
            Networks.NetworkDefinition network;
            try
            {
                network = addresses.Resolve(name)!;
            }
            catch (Networks.UnknownNetworkException e)
            {
                return Fail(session, placing, e.Message, now);
            }

            if (!addresses.TryAssign(session, network, placing.Id, now, out var nic, out var refusal))
            {
                return Fail(session, placing, refusal, now);
            }

            nics = [nic];
        }

        CountPlaced(session);
        var starting = LeaseStateMachine.Move(placing, LeaseState.Starting, $"reservation started on {hostId}; waiting for the host to start it", now) with { Networks = nics };
        session.Update(starting);
        session.BumpDesiredVersion(hostId);
        return starting;
    }

    /// <summary>
    /// Refuses an extension of a placed lease or a reservation to <paramref name="newEnd"/> when a reservation on its
    /// host needs the capacity in the added time; the message names the reservation's start and how far it can go.
    /// </summary>
    private static void CheckReservationsAllow(ILeaseSession session, Lease lease, DateTimeOffset newEnd)
    {
        if (lease.Host is not { } hostId || !(lease.HoldsCapacity || lease.IsReserved))
        {
            return;
        }

        var from = lease.ExpiresAt;
        var reservations = session.ReservationsOverlapping(from, newEnd).Where(r => r.Host == hostId && r.Id != lease.Id).ToList();
        if (reservations.Count == 0 || session.FindHost(hostId) is not { } host)
        {
            return;
        }

        var held = session.HoldingAfter(from).Where(l => l.Host == hostId && l.Id != lease.Id);
        var timeline = new HostTimeline(host, held, reservations);
        if (timeline.FirstReservationConflict(lease.Claim, from, newEnd) is not { } at)
        {
            return;
        }

        var blocking = timeline.ReservationsAt(at).First();
        var why = $"its host {hostId} is reserved from {blocking.StartAt:u} (lease {blocking.Id}) and has no room for it then";
        throw new LeaseStateException(lease, at > from
            ? $"lease {lease.Id} cannot run until {newEnd:u}: {why}; extend it by at most {Human(at - from)}, to end by {at:u}"
            : $"lease {lease.Id} cannot be extended past {from:u}: {why}");
    }

    /// <summary>The anti-affinity group as other leases on the reservation's host have it (the reservation counts there itself).</summary>
    private static HashSet<string> OtherAntiAffinity(ILeaseSession session, Lease reservation) =>
        reservation.Placement is { AntiAffinityGroup.Length: > 0 } p &&
        session.GroupLeasesByHost(p.AntiAffinityGroup, antiAffinity: true).GetValueOrDefault(reservation.Host!.Value) > 1
            ? new HashSet<string>(StringComparer.Ordinal) { p.AntiAffinityGroup }
            : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>E.g. "no host can take it from 2026-12-01 09:00:00Z until 2026-12-01 13:00:00Z: 2 hosts: capacity reserved for an advance reservation".</summary>
    private static string WindowRefusal(Lease reservation, PlacementDecision decision) =>
        decision.Explain() is var text && text.StartsWith(NoHostPrefix, StringComparison.Ordinal)
            ? $"{NoHostPrefix} from {reservation.StartAt:u} until {reservation.ExpiresAt:u}{text[NoHostPrefix.Length..]}"
            : text;

    /// <summary>The per-host reasons of a decision that chose no host, e.g. "1 host: down (no recent heartbeat)".</summary>
    private static string Rejections(PlacementDecision decision) =>
        decision.Explain() is var text && text.StartsWith(NoHostPrefix + ": ", StringComparison.Ordinal) ? text[(NoHostPrefix.Length + 2)..] : text;

    private Lease Fail(ILeaseSession session, Lease lease, string why, DateTimeOffset now)
    {
        CountRefused(session);
        var failed = LeaseStateMachine.Move(lease, LeaseState.Failed, why, now);
        Save(session, failed, now);
        return failed;
    }

    private static string Human(TimeSpan span) =>
        span.TotalDays >= 1 ? $"{span.TotalDays:0.#} days" : span.TotalHours >= 1 ? $"{span.TotalHours:0.#} hours" : $"{span.TotalMinutes:0} minutes";
}
