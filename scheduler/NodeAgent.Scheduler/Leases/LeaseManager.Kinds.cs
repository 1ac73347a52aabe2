using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Lease kinds: placing a lease now (immediate leases, and the best-effort queue's turns), and the best-effort
/// queue. Reservations are in LeaseManager.Reservations.cs.
/// </summary>
public sealed partial class LeaseManager
{
    /// <summary>The one key of <see cref="QueueWake"/>.</summary>
    public const string QueueKey = "queue";

    /// <summary>Notified (key <see cref="QueueKey"/>) when capacity may have freed up: a lease ended or failed. <see cref="QueueService"/> waits on it.</summary>
    public ChangeSignal<string> QueueWake { get; } = new();

    /// <summary>
    /// One pass over the best-effort queue (see <see cref="QueueOrder"/> for the order), in one transaction; returns
    /// how many leases were placed. A read decides first whether there is a queue at all, so an empty one costs no write.
    /// </summary>
    public async Task<int> PlaceQueuedAsync(CancellationToken cancellationToken)
    {
        if (store.Read(s => s.Queued()).Count == 0)
        {
            return 0;
        }

        var now = Now();
        var changed = await store.WriteAsync(session => RunQueue(session, now), cancellationToken);
        Announce(changed);
        return changed.Count(l => l.State == LeaseState.Starting);
    }

    /// <summary>The new lease a request describes, pending, with its times set for its kind.</summary>
    private static Lease NewLease(LeaseRequest request, string? network, Contract.V1.ImageRef image, DateTimeOffset now)
    {
        var lease = new Lease(LeaseId.New(now), request.Owner, request.Image, request.Resources, LeaseState.Pending, "accepted",
            null, now, now + request.Duration, now, request.RequestId)
        {
            SshKeys = request.SshKeys,
            ImageRef = image,
            DataDiskBytes = request.DataDiskBytes,
            DiskLimits = request.DiskLimits,
            Limits = request.Limits,
            Placement = request.Placement,
            Kind = request.Kind,
            RunFor = request.Duration,
            WantedNetwork = network,
            Project = request.Project.Length > 0 ? request.Project : request.Owner,
        };
        return request.Kind switch
        {
            LeaseKind.BestEffort => lease with { QueuedAt = now, ExpiresAt = now + request.QueueLimit },
            LeaseKind.Reservation => CheckWindow(lease with { StartAt = request.Start, ExpiresAt = request.Start!.Value + request.Duration }, now),
            _ => lease,
        };
    }

    /// <summary>Where the lease would go now (for a reservation: which host would keep its window), stored nowhere.</summary>
    private Lease DryRun(ILeaseSession session, Lease lease, DateTimeOffset now)
    {
        // The same rules as a real lease: a quota that would refuse it is the answer, before any host is looked at.
        if (_admissions.Select(a => a.Refuse(session, lease, now)).FirstOrDefault(r => r is not null) is { } refusal)
        {
            return lease with { Reason = refusal };
        }

        var wanted = PlacementRequestFor(lease);
        if (lease.Kind == LeaseKind.Reservation)
        {
            var window = placement.Decide(ForWindow(session, Candidates(session, now, wanted), lease.StartAt!.Value, lease.ExpiresAt), wanted);
            return lease with { Reason = window.Host is null ? WindowRefusal(lease, window) : window.Explain("would be reserved on"), Host = window.Host };
        }

        var plan = placement.Decide(WithReservations(session, Candidates(session, now, wanted), now, now + lease.RunFor, lease.Id), wanted);
        return lease with { Reason = plan.Explain("would go to"), Host = plan.Host };
    }

    /// <summary>An immediate lease: placed now, or failed with the reason.</summary>
    /// <remarks>A host <paramref name="planned"/> outside the write (<see cref="Plan"/>) is taken if it can still take the lease.</remarks>
    private Lease PlaceImmediately(ILeaseSession session, Lease pending, DateTimeOffset now, PlannedHost? planned)
    {
        var placing = LeaseStateMachine.Move(pending, LeaseState.Placing, "choosing a host", now);
        var attempt = TryPlace(session, placing, now, planned);
        if (attempt.Placed is not { } placed)
        {
            CountRefused(session);
            var failed = LeaseStateMachine.Move(placing, LeaseState.Failed, attempt.Why, now);
            session.Insert(failed);
            return failed;
        }

        CountPlaced(session);
        session.Insert(placed);
        return placed;
    }

    /// <summary>A best-effort lease: stored in its project's queue, then the queue gets a pass (which may place it at once).</summary>
    private (Lease Lease, IReadOnlyList<Lease> Others) Enqueue(ILeaseSession session, Lease pending, DateTimeOffset now)
    {
        var queued = pending with { Reason = $"waiting behind earlier leases of project {pending.Project} (first in, first out)" };
        session.Insert(queued);
        var changed = RunQueue(session, now);
        return (changed.FirstOrDefault(l => l.Id == queued.Id) ?? queued, changed.Where(l => l.Id != queued.Id).ToList());
    }

    /// <summary>
    /// Tries the queue's leases in <see cref="QueueOrder"/> order: each one placed starts its run time now; one that
    /// does not fit stays pending and says why, and its project's later leases wait behind it. Returns every lease
    /// written (placed, failed, or with a new reason).
    /// </summary>
    private List<Lease> RunQueue(ILeaseSession session, DateTimeOffset now)
    {
        var changed = new List<Lease>();
        var queue = new QueueOrder(session.Queued(), session.HeldVcpusByProject());
        while (queue.Next() is { } head)
        {
            if (head.ExpiresAt <= now)
            {
                // Its wait is over: ExpiryService ends it with the reason.
                queue.Dropped(head);
                continue;
            }

            var attempt = TryPlace(session, LeaseStateMachine.Move(head, LeaseState.Placing, "choosing a host", now), now);
            if (attempt.Placed is { } placed)
            {
                CountPlaced(session);
                session.Update(placed);
                session.BumpDesiredVersion(placed.Host!.Value);
                queue.Placed(head);
                changed.Add(placed);
            }
            else if (attempt.Permanent)
            {
                CountRefused(session);
                var failed = LeaseStateMachine.Move(head, LeaseState.Failed, attempt.Why, now);
                Save(session, failed, now);
                queue.Dropped(head);
                changed.Add(failed);
            }
            else
            {
                queue.Blocked(head);
                var reason = "waiting: " + attempt.Why;
                if (head.Reason != reason)
                {
                    var waiting = head with { Reason = reason, UpdatedAt = now };
                    session.Update(waiting);
                    changed.Add(waiting);
                }
            }
        }

        return changed;
    }

    /// <summary>
    /// Chooses a host for a placing lease for its run time from now, leaving every reservation's capacity alone, and
    /// gives it its address. Nothing is written: the caller stores what comes back.
    /// </summary>
    private PlaceAttempt TryPlace(ILeaseSession session, Lease placing, DateTimeOffset now, PlannedHost? planned = null)
    {
        NetworkDefinition? network;
        try
        {
            network = placing.WantedNetwork is { } name ? addresses.Resolve(name) : null;
        }
        catch (UnknownNetworkException e)
        {
            return new PlaceAttempt(null, e.Message, Permanent: true);
        }

        var wanted = PlacementRequestFor(placing);
        HostId host;
        if (planned?.Host is { } plan && StillTakes(session, plan, placing, wanted, now))
        {
            host = plan;
        }
        else
        {
            // A choice made again after a plan is not timed again: the metric counts one decision per lease.
            var decision = Decide(session, placing, wanted, now, timed: planned is null);
            if (decision.Host is not { } chosen)
            {
                return new PlaceAttempt(null, decision.Explain(), Permanent: false);
            }

            host = chosen;
        }

        ValueList<NetworkAttachment> nics = [];
        if (network is not null)
        {
            if (!addresses.TryAssign(session, network, placing.Id, now, out var nic, out var refusal))
            {
                return new PlaceAttempt(null, refusal, Permanent: false);
            }

            nics = [nic];
        }

        var starting = LeaseStateMachine.Move(placing, LeaseState.Starting, $"placed on {host}; waiting for the host to start it", now)
            with { Host = host, Networks = nics, ExpiresAt = now + placing.RunFor };
        return new PlaceAttempt(starting, starting.Reason, Permanent: false);
    }

    /// <summary>
    /// The candidates as a lease from now until <paramref name="end"/> sees them: a host with reservations in that time
    /// has what they need at the busiest moment set aside (<see cref="PlacementCandidate.Reserved"/>).
    /// </summary>
    private static IReadOnlyList<PlacementCandidate> WithReservations(
        ILeaseSession session, IReadOnlyList<PlacementCandidate> candidates, DateTimeOffset now, DateTimeOffset end, LeaseId self)
    {
        var reservations = session.ReservationsOverlapping(now, end).Where(r => r.Id != self).ToLookup(r => r.Host!.Value);
        if (reservations.Count == 0)
        {
            return candidates;
        }

        var held = session.HoldingAfter(now).ToLookup(l => l.Host!.Value);
        return candidates.Select(c =>
        {
            if (!reservations.Contains(c.Host.Id))
            {
                return c;
            }

            // Now, every lease on the host counts, also one whose end has passed and whose workspace is being removed.
            var peak = new HostTimeline(c.Host, held[c.Host.Id], reservations[c.Host.Id]).PeakOver(now, end, heldAtFrom: c.Host.Allocated);
            return c with { Reserved = HostTimeline.Beyond(peak, c.Host.Allocated) };
        }).ToList();
    }

    /// <summary>The leases with <see cref="Lease.QueuePosition"/> set for those waiting in a queue.</summary>
    private static IReadOnlyList<Lease> WithQueuePositions(ILeaseSession session, IReadOnlyList<Lease> leases)
    {
        if (!leases.Any(l => l.IsQueued))
        {
            return leases;
        }

        var positions = QueueOrder.Positions(session.Queued());
        return leases.Select(l => positions.TryGetValue(l.Id, out var position) ? l with { QueuePosition = position } : l).ToList();
    }

    /// <summary>Why a lease that never got a host ended: e.g. it gave up waiting, or its reservation was released before its start.</summary>
    private static string NotPlacedReason(Lease lease, string why) =>
        lease.IsQueued ? $"{why} before a host could take it; it was {lease.Reason}"
        : lease.IsReserved ? $"{why} before its start at {lease.StartAt:u}; its capacity on {lease.Host} is free again"
        : $"{why} before it was placed";

    /// <summary>Logs and wakes the watchers of leases a queue pass or a reservation's start changed, and of the queue behind them.</summary>
    private void Announce(IReadOnlyList<Lease> changed)
    {
        foreach (var lease in changed)
        {
            LogStateChanged(logger, lease.Id.Value, lease.State, lease.Reason);
            Changed(lease);
        }

        if (changed.Any(l => l.State != LeaseState.Pending))
        {
            AnnounceQueue();
        }
    }

    /// <summary>Wakes the watchers of every queued lease: their places in the queue may have changed.</summary>
    private void AnnounceQueue()
    {
        foreach (var lease in store.Read(s => s.Queued()))
        {
            LeaseChanges.Notify(lease.Id);
        }
    }

    /// <summary>A placement's outcome: the lease placed (starting), or why not and whether waiting can help.</summary>
    private sealed record PlaceAttempt(Lease? Placed, string Why, bool Permanent);
}
