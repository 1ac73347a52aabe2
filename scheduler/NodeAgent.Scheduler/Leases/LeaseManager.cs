using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>The lease does not exist; the message says how to find existing ones.</summary>
public sealed class LeaseNotFoundException(LeaseId id)
    : Exception($"lease {id} does not exist; `ws list --all` shows your leases");

/// <summary>What an agent observed of one workspace, and how many of the reboots asked for it has carried out.</summary>
public sealed record WorkspaceObservation(LeaseId Id, Contract.V1.WorkspaceState State, string Message, long RebootCount = 0)
{
    /// <summary>The workspace's disks as measured on the host; null when the report carries no measurement.</summary>
    public DiskUsage? Disk { get; init; }

    /// <summary>How the latest save went; null when the report carries none.</summary>
    public SaveReport? Save { get; init; }
}

/// <summary>
/// Leases: creating and placing them (with their addresses), extending, releasing, expiring, power actions
/// (LeaseManager.Power.cs), and following what agents report.
/// Every change happens in one store transaction, then wakes the watchers of the lease and of the host's
/// desired set. A lease that ends or fails puts its addresses into quarantine in the same transaction.
/// </summary>
public sealed partial class LeaseManager(
    ILeaseStore store, HostRegistry hosts, PlacementPipeline placement, AddressAllocator addresses, ILeaseImages images, TimeProvider time, ILogger<LeaseManager> logger,
    Metrics.SchedulerMetrics? metrics = null, IEnumerable<ILeaseAdmission>? admissions = null, LeaseExpiryPolicy? expiry = null)
{
    private LeaseExpiryPolicy _expiry = expiry ?? LeaseExpiryPolicy.Default;

    private readonly ILeaseAdmission[] _admissions = admissions?.ToArray() ?? [];
    private Action? _countPlaced;
    private Action? _countRefused;

    /// <summary>The longest a lease may run, counted from its creation.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(366);

    public ChangeSignal<LeaseId> LeaseChanges { get; } = new();

    /// <summary>
    /// Makes a lease of the request's kind (LeaseManager.Kinds.cs): an immediate lease is placed now or fails, a
    /// best-effort one joins its project's queue and is placed as soon as its turn comes and a host can take it, a
    /// reservation is admitted on a host that can keep its window free, or refused.
    /// </summary>
    /// <exception cref="UnknownNetworkException">The request names a network this scheduler does not have; nothing is stored.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A reservation's window is not in the future or ends too far ahead; nothing is stored.</exception>
    /// <remarks>The image is resolved in the catalogue first; an unknown or retired image stores nothing either.</remarks>
    public async Task<Lease> CreateAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        var now = Now();
        var network = addresses.Resolve(request.Network);
        var image = images.ResolveForLease(request.Image, request.ImageVersion);
        var pending = NewLease(request, network?.Name, image, now);
        if (request.DryRun)
        {
            return store.Read(session => DryRun(session, pending, now));
        }

        var planned = pending.Kind == LeaseKind.Immediate ? await PlanAsync(pending) : (PlannedHost?)null;
        var (lease, others) = await store.WriteAsync<(Lease Lease, IReadOnlyList<Lease> Others)>(session =>
        {
            if (request.RequestId is { } requestId && session.FindByRequestId(request.Owner, requestId) is { } existing)
            {
                return (existing, []);
            }

            foreach (var admission in _admissions)
            {
                if (admission.Refuse(session, pending, now) is { } refusal)
                {
                    CountRefused(session);
                    var refused = LeaseStateMachine.Move(pending, LeaseState.Failed, refusal, now);
                    session.Insert(refused);
                    return (refused, []);
                }
            }

            return pending.Kind switch
            {
                LeaseKind.BestEffort => Enqueue(session, pending, now),
                LeaseKind.Reservation => (Reserve(session, pending, now), []),
                _ => (PlaceImmediately(session, pending, now, planned), []),
            };
        }, cancellationToken);

        Created(lease);
        Announce(others);
        return lease.IsQueued ? Get(lease.Id) : lease;
    }

    /// <summary>Logs a lease just stored (its state, host and addresses) and wakes its watchers.</summary>
    private void Created(Lease lease)
    {
        LogCreated(logger, lease.Id.Value, lease.Owner, lease.State, lease.Host?.Value ?? "-", lease.Reason);
        foreach (var nic in lease.Networks)
        {
            LogAddressAssigned(logger, lease.Id.Value, nic.Network, nic.Address, nic.Mac);
        }

        Changed(lease);
    }

    public Lease Get(LeaseId id) => store.Read(s => WithQueuePositions(s, [s.FindLease(id) ?? throw new LeaseNotFoundException(id)])[0]);

    /// <summary>How many live leases there are in each state, and in the queue (see <see cref="ILeaseSession.CountLive"/>).</summary>
    public LiveLeaseCounts CountLive() => store.Read(s => s.CountLive());

    /// <summary>Up to <paramref name="size"/> leases after <paramref name="after"/>, oldest first (null: from the first).</summary>
    /// <param name="project">Only this project's leases; null for every project's.</param>
    /// <param name="group">Only this group's leases; null for every lease.</param>
    public LeasePage ListPage(bool includeEnded, LeasePosition? after, int size, string? project = null, string? group = null) => store.Read(s =>
    {
        var leases = WithQueuePositions(s, s.ListLeases(includeEnded, after, size, project, group));
        return new LeasePage(leases, leases.Count == size ? LeasePosition.Of(leases[^1]) : null);
    });

    /// <summary>
    /// Moves a lease's end out by <paramref name="by"/>, within <see cref="MaxLifetime"/> and only if no reservation on
    /// its host needs the capacity then. A best-effort lease still in the queue gets a longer run time instead.
    /// </summary>
    /// <exception cref="LeaseStateException">The lease has ended, or a reservation needs its host's capacity; the message says until when it can run.</exception>
    public async Task<Lease> ExtendAsync(LeaseId id, TimeSpan by, CancellationToken cancellationToken)
    {
        var now = Now();
        var lease = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(id) ?? throw new LeaseNotFoundException(id);
            if (lease.IsTerminal || lease.State == LeaseState.Stopping)
            {
                throw new LeaseStateException(lease, lease.State);
            }

            if (lease.IsQueued)
            {
                var longer = lease with { RunFor = lease.RunFor + by, UpdatedAt = now };
                if (longer.RunFor > MaxLifetime)
                {
                    throw new ArgumentOutOfRangeException(nameof(by), $"lease {id} would then run {longer.RunFor.TotalDays:0.#} days once placed, longer than the longest lifetime of {MaxLifetime.TotalDays:0} days");
                }

                session.Update(longer);
                return longer;
            }

            var expires = lease.ExpiresAt + by;
            if (expires - lease.CreatedAt > MaxLifetime)
            {
                throw new ArgumentOutOfRangeException(nameof(by), $"lease {id} would then end {expires:u}, past the longest lifetime of {MaxLifetime.TotalDays:0} days from its creation");
            }

            foreach (var quota in _admissions.OfType<Quotas.QuotaAdmission>())
            {
                if (quota.RefuseExtension(session, lease, expires, now) is { } refusal)
                {
                    throw new QuotaExceededException(refusal);
                }
            }

            CheckReservationsAllow(session, lease, expires);
            var extended = lease with { ExpiresAt = expires, UpdatedAt = now };
            session.Update(extended);
            return extended;
        }, cancellationToken);
        Changed(lease);
        return lease.IsQueued ? Get(lease.Id) : lease;
    }

    /// <summary>Ends a lease: its workspace is stopped and removed. Releasing an ended lease changes nothing.</summary>
    public Task<Lease> ReleaseAsync(LeaseId id, CancellationToken cancellationToken) =>
        StopAsync(id, "released", cancellationToken);

    /// <summary>Applies an agent's reports about workspaces on its host.</summary>
    public async Task ApplyAsync(HostId host, IReadOnlyList<WorkspaceObservation> observations, CancellationToken cancellationToken)
    {
        await FinishSavesAsync(host, observations, cancellationToken);
        var now = Now();
        var changed = await store.WriteAsync(session =>
        {
            var changed = new List<Lease>();
            foreach (var observation in observations)
            {
                var lease = session.FindLease(observation.Id);
                if (lease is null || lease.Host != host || lease.IsTerminal)
                {
                    continue;
                }

                if (observation.State == Contract.V1.WorkspaceState.Refused)
                {
                    if (PlaceElsewhere(session, lease, host, observation.Message, now) is { } moved)
                    {
                        changed.Add(moved);
                    }

                    continue;
                }

                var next = LeaseFollowsAgent.Next(lease, observation, now);
                var written = observation.Disk is { } disk && disk != (next ?? lease).Disk ? (next ?? lease) with { Disk = disk } : next;
                if (written is null)
                {
                    continue;
                }

                Save(session, written, now);
                if (lease.WantsWorkspace != written.WantsWorkspace)
                {
                    session.BumpDesiredVersion(host);
                }

                // A new disk measurement alone is stored but wakes no watcher: it changes every report.
                if (next is not null)
                {
                    changed.Add(written);
                }
            }

            return changed;
        }, cancellationToken);

        foreach (var lease in changed)
        {
            LogStateChanged(logger, lease.Id.Value, lease.State, lease.Reason);
            Changed(lease);
            if (lease.Host != host)
            {
                // Placed elsewhere after this host refused it: this host's desired set dropped it.
                hosts.DesiredChanges.Notify(host);
            }
        }
    }

    /// <summary>
    /// Ends stopping leases whose workspace the host no longer has: the heartbeat lists every workspace it
    /// holds, so absence means removal finished even if its report was lost.
    /// </summary>
    public async Task ObserveHeldAsync(HostId host, IReadOnlySet<string> held, CancellationToken cancellationToken)
    {
        // The host cache counts its stopping leases (kept there on SQLite, read from the row on PostgreSQL); with none
        // there is nothing to look for, and a heartbeat reads no lease. (With replicas the count may be a second
        // behind; the next heartbeat looks again.)
        if (hosts.Find(host) is { StoppingLeases: 0 })
        {
            return;
        }

        var gone = store.Read(s => s.StoppingOn(host)).Where(l => !held.Contains(l.Id.Value)).ToList();
        if (gone.Count > 0)
        {
            await ApplyAsync(host, gone.Select(l => new WorkspaceObservation(l.Id, Contract.V1.WorkspaceState.Gone, "no longer on the host")).ToList(), cancellationToken);
        }
    }

    /// <remarks>
    /// The version is read before the leases, and as committed: on SQLite the host cache learns of a bump only once its
    /// write has committed, on PostgreSQL the row holds it. A set read under a version whose write had not committed could
    /// still lack the change it stands for, and the watch sends a version once, so the host would hold that stale set
    /// until the next change. Read in this order, the leases are at least as new as their version.
    /// </remarks>
    public DesiredSet DesiredFor(HostId host) => store.Read(session =>
    {
        var version = session.StoredDesiredVersion(host) ?? throw new HostNotFoundException(host);
        return new DesiredSet(host, version, session.LiveLeasesOn(host).Where(l => l.WantsWorkspace).ToList());
    });

    private async Task<Lease> StopAsync(LeaseId id, string why, CancellationToken cancellationToken)
    {
        var now = Now();
        var (before, after) = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(id) ?? throw new LeaseNotFoundException(id);
            Lease next;
            switch (lease.State)
            {
                case LeaseState.Pending or LeaseState.Placing:
                    next = LeaseStateMachine.Move(lease, LeaseState.Ended, NotPlacedReason(lease, why), now);
                    break;
                case LeaseState.Starting or LeaseState.Running or LeaseState.Stopped or LeaseState.Paused:
                    next = LeaseStateMachine.Move(LeaseSaving.Abandon(lease, why, now), LeaseState.Stopping, $"{why}; {lease.Host} is removing the workspace", now);
                    session.BumpDesiredVersion(lease.Host!.Value);
                    break;
                default:
                    return (lease, lease);
            }

            Save(session, next, now);
            return (lease, next);
        }, cancellationToken);

        if (!ReferenceEquals(before, after))
        {
            LogStateChanged(logger, after.Id.Value, after.State, after.Reason);
            Changed(after);
            if (before.IsQueued)
            {
                // The leases behind it moved up.
                AnnounceQueue();
            }
        }

        return after;
    }

    /// <summary>Writes a changed lease; one that has just ended or failed puts its addresses into quarantine.</summary>
    private void Save(ILeaseSession session, Lease next, DateTimeOffset now)
    {
        session.Update(next);
        if (next.IsTerminal)
        {
            var (count, until) = addresses.Quarantine(session, next.Id, now);
            if (count > 0)
            {
                LogQuarantined(logger, next.Id.Value, count, until);
            }
        }
    }

    /// <summary>Counts a lease placed (nodeagent_scheduler_placements_total) once its write commits, so a write run again counts once.</summary>
    private void CountPlaced(ILeaseSession session)
    {
        if (metrics is { } m)
        {
            // One delegate for the manager's life: a placement adds no allocation of its own to count itself.
            session.AfterCommit(_countPlaced ??= () => m.Placed.Inc());
        }
    }

    /// <summary>Counts a lease refused for want of a host once its write commits.</summary>
    private void CountRefused(ILeaseSession session)
    {
        if (metrics is { } m)
        {
            session.AfterCommit(_countRefused ??= () => m.Refused.Inc());
        }
    }

    /// <summary>The time at the precision the store keeps (milliseconds), so what is returned equals what is read back.</summary>
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
    }

    /// <summary>What placement needs to know of a lease: its claim (data disks included), network, image and constraints.</summary>
    private static PlacementRequest PlacementRequestFor(Lease lease) =>
        PlacementRequestFor(lease.Claim, lease.WantedNetwork, lease.ImageRef?.Sha256, lease.Placement) with { RefusedBy = lease.RefusedBy.ToHashSet(StringComparer.Ordinal) };

    private static PlacementRequest PlacementRequestFor(Resources claim, string? network, string? imageSha256, Contract.V1.PlacementConstraints? constraints) =>
        new(claim, network)
        {
            ImageSha256 = imageSha256,
            Architecture = constraints is { Architecture.Length: > 0 } ? constraints.Architecture : null,
            RequiredFeatures = constraints?.RequiredFeatures.ToList() ?? [],
            RequiredLabels = constraints?.RequiredLabels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal) ?? new Dictionary<string, string>(),
            AntiAffinityGroup = constraints is { AntiAffinityGroup.Length: > 0 } ? constraints.AntiAffinityGroup : null,
            SpreadGroup = constraints is { SpreadGroup.Length: > 0 } ? constraints.SpreadGroup : null,
        };

    private void Changed(Lease lease)
    {
        LeaseChanges.Notify(lease.Id);
        if (lease.Host is { } host)
        {
            hosts.DesiredChanges.Notify(host);
        }

        if (lease.IsTerminal)
        {
            // Capacity (or a reservation's window) was freed: the queue may move.
            QueueWake.Notify(QueueKey);
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Lease {LeaseId} of {Owner}: {State} on {HostId} ({Reason})")]
    private static partial void LogCreated(ILogger logger, string leaseId, string owner, LeaseState state, string hostId, string reason);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Lease {LeaseId} is now {State} ({Reason})")]
    private static partial void LogStateChanged(ILogger logger, string leaseId, LeaseState state, string reason);

    [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "Lease {LeaseId} holds {Address} with MAC {Mac} on network {Network}")]
    private static partial void LogAddressAssigned(ILogger logger, string leaseId, string network, System.Net.IPAddress address, string mac);

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "Lease {LeaseId} is over; its {Count} address(es) are in quarantine until {Until}")]
    private static partial void LogQuarantined(ILogger logger, string leaseId, int count, DateTimeOffset until);
}
