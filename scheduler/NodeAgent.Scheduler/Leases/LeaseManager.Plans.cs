using NodeAgent.Contract;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Placing an immediate lease in two steps, as Omega and Nomad do: the choice is made outside the write, on the
/// hosts as last committed, where requests that arrive together are planned together; the write then only checks that the chosen
/// host can still take the lease (every filter again, on the host as the transaction sees it) and claims it. A host
/// that another claim filled meanwhile is not taken: the write chooses again. Writes are one at a time, so the
/// check and the claim cannot be separated by another claim.
/// </summary>
public sealed partial class LeaseManager
{
    /// <summary>At most this many immediate leases are planned in one pass (<see cref="PlanAsync"/>).</summary>
    internal const int MaxPlannedTogether = 64;

    private Coalescer<Lease, PlannedHost>? _plans;

    /// <summary>
    /// The host placement would choose for <paramref name="pending"/> now, from a read (its host is null when none can
    /// take it). Leases asked for while another plan is being made are planned together (<see cref="PlanTogether"/>).
    /// </summary>
    private Task<PlannedHost> PlanAsync(Lease pending) =>
        LazyInitializer.EnsureInitialized(ref _plans, () => new Coalescer<Lease, PlannedHost>(PlanTogether, MaxPlannedTogether)).RunAsync(pending);

    /// <summary>
    /// Plans immediate leases asked for at the same time, from one read: leases that want the same (the same claim,
    /// network, image, constraints and run time) share one examination of the hosts
    /// (<see cref="PlacementPipeline.DecideEach"/>), each choosing as the ones before it left the hosts, as a group's
    /// members do (<see cref="PlanGroup"/>), so they are placed as if asked for one after the other; a lease unlike the
    /// others is planned alone.
    /// </summary>
    internal PlannedHost[] PlanTogether(IReadOnlyList<Lease> pendings)
    {
        var now = Now();
        var planned = new PlannedHost[pendings.Count];
        var done = new bool[pendings.Count];
        store.Read(session =>
        {
            var alike = new List<int>();
            for (var first = 0; first < pendings.Count; first++)
            {
                if (done[first])
                {
                    continue;
                }

                alike.Clear();
                alike.Add(first);
                for (var other = first + 1; other < pendings.Count; other++)
                {
                    if (!done[other] && WantSame(pendings[first], pendings[other]))
                    {
                        alike.Add(other);
                        done[other] = true;
                    }
                }

                var placing = LeaseStateMachine.Move(pendings[first], LeaseState.Placing, "choosing a host", now);
                var wanted = PlacementRequestFor(placing);
                if (alike.Count == 1)
                {
                    planned[first] = new PlannedHost(Decide(session, placing, wanted, now, timed: true).Host);
                    continue;
                }

                var chosen = DecideEach(session, placing, wanted, wanted, alike.Count, now);
                for (var k = 0; k < alike.Count; k++)
                {
                    planned[alike[k]] = new PlannedHost(chosen[k]);
                }
            }

            return planned;
        });
        return planned;
    }

    /// <summary>
    /// Hosts for <paramref name="count"/> leases like <paramref name="placing"/>, from one examination of the hosts
    /// (<see cref="PlacementPipeline.DecideEach"/>): candidates as <paramref name="wanted"/> sees them, ranked for
    /// <paramref name="ranked"/>. The placement-duration metric counts one decision per lease, each a share of this one.
    /// </summary>
    private HostId?[] DecideEach(ILeaseSession session, Lease placing, PlacementRequest wanted, PlacementRequest ranked, int count, DateTimeOffset now)
    {
        var candidates = WithReservations(session, Candidates(session, now, wanted), now, now + placing.RunFor, placing.Id);
        var deciding = time.GetTimestamp();
        var chosen = placement.DecideEach(candidates, ranked, count);
        var share = time.GetElapsedTime(deciding).TotalSeconds / count;
        for (var i = 0; i < count; i++)
        {
            metrics?.PlacementDuration.Observe(share);
        }

        return chosen;
    }

    /// <summary>Whether placement would see <paramref name="a"/> and <paramref name="b"/> as the same request.</summary>
    private static bool WantSame(Lease a, Lease b) =>
        a.Claim == b.Claim && a.RunFor == b.RunFor && a.WantedNetwork == b.WantedNetwork && a.ImageRef?.Sha256 == b.ImageRef?.Sha256 &&
        Equals(a.Placement, b.Placement) && a.RefusedBy.Count == 0 && b.RefusedBy.Count == 0;

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

    /// <summary>
    /// Every host as placement sees it: health, what is free, its smoothed load, its cached images, and how many live
    /// leases of the request's groups it runs (read only when the request has groups).
    /// </summary>
    /// <remarks>
    /// Made lazily (<see cref="LazyCandidates"/>): placement makes only those it examines. A host's candidate is
    /// kept in an array beside the ordered hosts (<see cref="IHostsWithLive.CandidateAt"/>) until the row, load or
    /// images change, and holds what the filters and rankers read (its id too), so a placement that examines 64 of
    /// 10,000 hosts reads one array element and one candidate of each rather than a dozen objects scattered over
    /// memory; and it asks for both a few hosts ahead (<see cref="ICandidatePrefetch"/>), so it seldom waits for them.
    /// </remarks>
    private LazyCandidates Candidates(ILeaseSession session, DateTimeOffset now, PlacementRequest request) =>
        Candidates(session, session.Hosts(), now, request);

    private LazyCandidates Candidates(ILeaseSession session, IReadOnlyList<HostRecord> among, DateTimeOffset now, PlacementRequest request)
    {
        var antiAffinity = request.AntiAffinityGroup is { } anti ? session.GroupLeasesByHost(anti, antiAffinity: true) : null;
        var spread = request.SpreadGroup is { } group ? session.GroupLeasesByHost(group, antiAffinity: false) : null;
        var ttl = hosts.HeartbeatTtl;
        var withLive = among as IHostsWithLive;
        return new LazyCandidates(among.Count, index =>
        {
            var candidate = withLive is not null ? withLive.CandidateAt(index, now, ttl, MakeCandidate) : Made(among[index]);
            if (antiAffinity is not null && antiAffinity.ContainsKey(candidate.Id))
            {
                candidate = candidate with { AntiAffinityGroups = new HashSet<string>(StringComparer.Ordinal) { request.AntiAffinityGroup! } };
            }

            if (spread is not null && spread.TryGetValue(candidate.Id, out var count))
            {
                candidate = candidate with { SpreadGroupLeases = new Dictionary<string, int>(StringComparer.Ordinal) { [request.SpreadGroup!] = count } };
            }

            return candidate;
        }, withLive);

        PlacementCandidate Made(HostRecord host) => MakeCandidate(host, hosts.Live(host.Id), host.HealthAt(now, ttl));
    }

    /// <summary>The host as placement sees it, apart from the request's groups: its load from <paramref name="live"/> when its heartbeats brought one.</summary>
    private static PlacementCandidate MakeCandidate(HostRecord host, HostLive? live, HostHealth health)
    {
        var load = live?.Load is { LastSampleAt: not null } average ? average : null;

        // What is free and the capacity are allocated together with the candidate, so ranking reads them from memory
        // beside it rather than from the row's objects, allocated whenever the row was.
        var free = host.Free;
        var capacity = host.Registration.Capacity with { };
        return new PlacementCandidate(host, health, free)
        {
            Capacity = capacity,
            CachedImages = live?.CachedImages ?? System.Collections.Frozen.FrozenSet<string>.Empty,
            CpuLoad = load?.Cpu ?? LoadAverage.Clamp01(host.Load.CpuUtilization),
            MemoryPressure = load?.MemoryPressure ?? PlacementCandidate.MemoryPressureOf(host, free),
        };
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
