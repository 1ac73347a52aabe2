using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Lease groups (<see cref="LeaseGroup"/>): several identical workspaces from one request, placed whole or not at all.
/// An immediate group's hosts are chosen first outside the write, as a single lease's are (<see cref="PlanGroup"/>), each
/// choice counting the claims of the ones before it. The members are then admitted and placed one after the other in one
/// transaction, each on its planned host if that host can still take it (else chosen again there), each seeing the
/// capacity, addresses, quota and anti-affinity the ones before it took; one that cannot be placed rolls the
/// transaction back, and every member is then stored failed with the reason. One request, one plan and one commit for
/// N placements is what makes a group cheaper per workspace than N requests.
/// </summary>
public sealed partial class LeaseManager
{
    /// <summary>
    /// Makes <paramref name="count"/> leases of <paramref name="request"/>: an immediate group placed now, a reservation
    /// group admitted on hosts that keep every window, or every member failed with the same reason. A retried request
    /// with the same request id returns what the first one made.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is not between 1 and <see cref="LeaseGroup.MaxSize"/>; nothing is stored.</exception>
    /// <exception cref="ArgumentException">The request is best-effort: the queue places one lease at a time; nothing is stored.</exception>
    public async Task<LeaseGroup> CreateGroupAsync(LeaseRequest request, int count, CancellationToken cancellationToken)
    {
        if (count is < 1 or > LeaseGroup.MaxSize)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"count {count} is not between 1 and {LeaseGroup.MaxSize}");
        }

        if (request.Kind == LeaseKind.BestEffort)
        {
            throw new ArgumentException(BestEffortGroup, nameof(request));
        }

        var now = Now();
        var network = addresses.Resolve(request.Network);
        var image = images.ResolveForLease(request.Image, request.ImageVersion);
        var group = LeaseGroup.NewId(now);
        var members = new Lease[count];
        for (var i = 0; i < count; i++)
        {
            // The request id is unique per owner: the first member carries it, and finds the others by its group.
            members[i] = NewLease(request, network?.Name, image, now) with { Group = group, RequestId = i == 0 ? request.RequestId : null };
        }

        if (request.DryRun)
        {
            return await DryRunGroupAsync(members, now, cancellationToken);
        }

        var plan = request.Kind == LeaseKind.Immediate ? PlanGroup(members, now) : null;
        IReadOnlyList<Lease> made;
        try
        {
            made = await store.WriteAsync(session => StoredGroup(session, request) ?? AdmitGroup(session, members, now, plan), cancellationToken);
        }
        catch (GroupRefusedException refused)
        {
            made = await store.WriteAsync(session => StoredGroup(session, request) ?? FailGroup(session, members, refused.Message, now), cancellationToken);
        }

        foreach (var lease in made)
        {
            Created(lease);
        }

        return new LeaseGroup(made[0].Group ?? string.Empty, made);
    }

    /// <summary>What a best-effort group is told.</summary>
    public const string BestEffortGroup =
        "a best-effort lease cannot be asked for in a group: the queue places one lease at a time; ask for each on its own, or for an immediate group";

    /// <summary>What an earlier request with the same request id made: its group, or the one lease it made alone; null when none did.</summary>
    private static IReadOnlyList<Lease>? StoredGroup(ILeaseSession session, LeaseRequest request)
    {
        if (request.RequestId is not { } requestId || session.FindByRequestId(request.Owner, requestId) is not { } first)
        {
            return null;
        }

        return first.Group is { } group ? session.ListLeases(includeEnded: true, after: null, LeaseGroup.MaxSize, group: group) : [first];
    }

    /// <summary>
    /// The hosts placement would choose for the members of an immediate group now, from one read and one examination
    /// of the hosts (<see cref="PlacementPipeline.DecideEach"/>): each member chooses as the ones before it left the
    /// hosts. Null entries from the first member no host could take on.
    /// </summary>
    /// <remarks>
    /// A group with no spread or anti-affinity group of its own is its own spread group: each member a host took
    /// lowers that host's group-spread score for the next, as Nomad's job anti-affinity does. Otherwise every member
    /// would go to the best host of the sample until it is full, since what a host runs is measured only once its
    /// workspaces start.
    /// </remarks>
    private PlannedHost?[] PlanGroup(Lease[] members, DateTimeOffset now)
    {
        var placing = LeaseStateMachine.Move(members[0], LeaseState.Placing, "choosing a host", now);
        var wanted = PlacementRequestFor(placing);
        var spread = wanted.SpreadGroup is null && wanted.AntiAffinityGroup is null ? wanted with { SpreadGroup = members[0].Group } : wanted;
        var hosts = store.Read(session => DecideEach(session, placing, wanted, spread, members.Length, now));
        return hosts.Select(h => h is null ? (PlannedHost?)null : new PlannedHost(h)).ToArray();
    }

    /// <summary>
    /// Admits and places (or reserves) every member, in order, an immediate one on its <paramref name="plan"/>ned host if
    /// that host can still take it; throws <see cref="GroupRefusedException"/> at the first that cannot be.
    /// </summary>
    private List<Lease> AdmitGroup(ILeaseSession session, Lease[] members, DateTimeOffset now, PlannedHost?[]? plan = null)
    {
        var made = new List<Lease>(members.Length);
        for (var i = 0; i < members.Length; i++)
        {
            var pending = members[i];
            foreach (var admission in _admissions)
            {
                if (admission.Refuse(session, pending, now) is { } refusal)
                {
                    throw new GroupRefusedException(members.Length, i, "is refused", refusal);
                }
            }

            Lease lease;
            if (pending.Kind == LeaseKind.Reservation)
            {
                var (reserved, why) = TryReserve(session, pending, now);
                lease = reserved ?? throw new GroupRefusedException(members.Length, i, "cannot be reserved", why!);
                session.Insert(lease);
            }
            else
            {
                var attempt = TryPlace(session, LeaseStateMachine.Move(pending, LeaseState.Placing, "choosing a host", now), now, plan?[i] ?? new PlannedHost(null));
                lease = attempt.Placed ?? throw new GroupRefusedException(members.Length, i, "cannot be placed", attempt.Why);
                session.Insert(lease);
                CountPlaced(session);
            }

            made.Add(lease);
        }

        return made;
    }

    /// <summary>Stores every member failed, with the reason the group was refused.</summary>
    private List<Lease> FailGroup(ILeaseSession session, Lease[] members, string reason, DateTimeOffset now)
    {
        var failed = new List<Lease>(members.Length);
        foreach (var pending in members)
        {
            var lease = LeaseStateMachine.Move(pending, LeaseState.Failed, reason, now);
            CountRefused(session);
            session.Insert(lease);
            failed.Add(lease);
        }

        return failed;
    }

    /// <summary>
    /// Where each member would go: the group is placed in a write that is then rolled back, so each member sees what the
    /// ones before it would take. The answer's leases are pending, with the host each would go to; none has an id.
    /// </summary>
    private async Task<LeaseGroup> DryRunGroupAsync(Lease[] members, DateTimeOffset now, CancellationToken cancellationToken)
    {
        IReadOnlyList<Lease> planned;
        try
        {
            await store.WriteAsync<bool>(session => throw new DryRunOutcome(AdmitGroup(session, members, now)), cancellationToken);
            throw new InvalidOperationException("a dry run's write returned instead of being rolled back");
        }
        catch (DryRunOutcome outcome)
        {
            planned = outcome.Leases.Select((l, i) => members[i] with
            {
                Host = l.Host,
                Reason = $"workspace {i + 1} of {members.Length} would {(l.Kind == LeaseKind.Reservation ? "be reserved on" : "go to")} {l.Host}",
            }).ToList();
        }
        catch (GroupRefusedException refused)
        {
            planned = members.Select(m => m with { Reason = refused.Message }).ToList();
        }

        return new LeaseGroup(string.Empty, planned);
    }

    /// <summary>Why a group was not made: which member could not be, and why; every member is stored with this reason.</summary>
    private sealed class GroupRefusedException(int count, int index, string what, string why)
        : Exception($"workspace {index + 1} of the group of {count} {what}: {why}; a group is placed whole or not at all, so none of it was");

    /// <summary>Carries a dry run's placements out of the write it rolls back.</summary>
    private sealed class DryRunOutcome(List<Lease> leases) : Exception("a dry run is rolled back")
    {
        public List<Lease> Leases { get; } = leases;
    }
}
