using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Immediate and best-effort leases through the scheduler's real API on a manual clock: the queue, its order (FIFO
/// within a project, fair share across projects), giving up, a restart, and clients racing for the last vCPUs.
/// </summary>
public sealed class BestEffortApiTests : IAsyncLifetime
{
    private KindsScheduler _s = null!;

    public async Task InitializeAsync() => _s = await KindsScheduler.StartAsync();

    public async Task DisposeAsync() => await _s.DisposeAsync();

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_KindLeftOut_IsImmediateAndFailsWhenNoHostHasRoom()
    {
        await _s.RegisterAsync("h1", vcpus: 2);
        await _s.CreateAsync(KindsScheduler.Request(vcpus: 2));

        var refused = await _s.CreateAsync(KindsScheduler.Request());

        Assert.Equal(LeaseKind.Immediate, refused.Kind);
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("no host can take it: 1 host: insufficient vCPUs", refused.StateReason);
    }

    [Fact(Timeout = 15_000)]
    public async Task BestEffort_NoRoom_WaitsSayingWhy_ThenRunsItsFullDurationOnceAnotherLeaseEnds()
    {
        await _s.RegisterAsync("h1", vcpus: 2);
        var filler = await _s.CreateAsync(KindsScheduler.Request(vcpus: 2), owner: "ops");

        var queued = await _s.BestEffortAsync("alice", duration: TimeSpan.FromHours(3));
        _s.Clock.Advance(TimeSpan.FromMinutes(30));
        await _s.HeartbeatAsync("h1", vcpus: 2, held: filler.Id);
        await _s.EndAsync(filler);
        var placed = await _s.WaitForAsync(queued.Id, l => l.State == LeaseState.Starting);

        Assert.Equal(LeaseState.Pending, queued.State);
        Assert.Equal(LeaseKind.BestEffort, queued.Kind);
        Assert.Equal("waiting: no host can take it: 1 host: insufficient vCPUs", queued.StateReason);
        Assert.Equal(1u, queued.QueuePosition);
        Assert.Equal(KindsScheduler.Start, queued.QueuedAt.ToDateTimeOffset());
        Assert.Equal(KindsScheduler.Start + TimeSpan.FromDays(1), queued.ExpiresAt.ToDateTimeOffset());
        Assert.Equal("h1", placed.HostId);
        Assert.Equal(0u, placed.QueuePosition);
        Assert.Equal(KindsScheduler.Start + TimeSpan.FromMinutes(30) + TimeSpan.FromHours(3), placed.ExpiresAt.ToDateTimeOffset());
        Assert.Contains(placed.Id, (await _s.DesiredAsync("h1")).Workspaces.Select(w => w.Id));
    }

    [Fact(Timeout = 15_000)]
    public async Task BestEffort_SameProject_FirstInFirstOutEvenWhenALaterOneWouldFit()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var filler = await _s.CreateAsync(KindsScheduler.Request(vcpus: 3), owner: "ops");

        var first = await _s.BestEffortAsync("alice", vcpus: 2);
        var second = await _s.BestEffortAsync("alice", vcpus: 1);
        var list = (await _s.Leases.ListLeasesAsync(new ListLeasesRequest())).Leases;
        await _s.EndAsync(filler);
        var firstPlaced = await _s.WaitForAsync(first.Id, l => l.State == LeaseState.Starting);
        var secondPlaced = await _s.WaitForAsync(second.Id, l => l.State == LeaseState.Starting);

        Assert.Equal(LeaseState.Pending, second.State);
        Assert.Equal("waiting behind earlier leases of project alice (first in, first out)", second.StateReason);
        Assert.Equal([1u, 2u], [list.Single(l => l.Id == first.Id).QueuePosition, list.Single(l => l.Id == second.Id).QueuePosition]);
        Assert.Equal("h1", firstPlaced.HostId);
        Assert.Equal("h1", secondPlaced.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task BestEffort_OtherProjectsHeadDoesNotFit_ItDoesNotBlockThisProject()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        await _s.CreateAsync(KindsScheduler.Request(vcpus: 3), owner: "ops");
        var big = await _s.BestEffortAsync("alice", vcpus: 2);

        var small = await _s.BestEffortAsync("bob", vcpus: 1);

        Assert.Equal(LeaseState.Starting, small.State);
        Assert.Equal(LeaseState.Pending, (await _s.GetAsync(big.Id)).State);
    }

    [Fact(Timeout = 15_000)]
    public async Task BestEffort_FairShare_TheProjectHoldingFewerVcpusGoesFirstThoughItQueuedLater()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        await _s.CreateAsync(KindsScheduler.Request(vcpus: 2), owner: "alice");
        var freedSoon = await _s.CreateAsync(KindsScheduler.Request(vcpus: 1), owner: "ops");
        await _s.CreateAsync(KindsScheduler.Request(vcpus: 1), owner: "ops");
        var alices = await _s.BestEffortAsync("alice");
        var bobs = await _s.BestEffortAsync("bob");

        await _s.EndAsync(freedSoon);
        var placed = await _s.WaitForAsync(bobs.Id, l => l.State == LeaseState.Starting);

        Assert.Equal(LeaseState.Pending, bobs.State);
        Assert.True(alices.QueuedAt.ToDateTimeOffset() <= bobs.QueuedAt.ToDateTimeOffset());
        Assert.Equal("h1", placed.HostId);
        var waiting = await _s.GetAsync(alices.Id);
        Assert.Equal(LeaseState.Pending, waiting.State);
        Assert.Equal(1u, waiting.QueuePosition);
    }

    [Fact(Timeout = 15_000)]
    public async Task BestEffort_WaitsPastItsQueueLimit_EndsSayingItGaveUpAndWhy()
    {
        await _s.RegisterAsync("h1", vcpus: 1);
        await _s.CreateAsync(KindsScheduler.Request(), owner: "ops");
        var request = KindsScheduler.Request(LeaseKind.BestEffort);
        request.QueueLimit = Duration.FromTimeSpan(TimeSpan.FromMinutes(10));
        var queued = await _s.CreateAsync(request);

        _s.Clock.Advance(TimeSpan.FromMinutes(10));
        var ended = await _s.WaitForAsync(queued.Id, l => l.State == LeaseState.Ended);

        Assert.Equal(KindsScheduler.Start + TimeSpan.FromMinutes(10), queued.ExpiresAt.ToDateTimeOffset());
        Assert.Equal(
            "expired at 2026-11-30 08:10:00Z before a host could take it; it was waiting: no host can take it: 1 host: insufficient vCPUs",
            ended.StateReason);
        Assert.Equal("", ended.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task ExtendLease_StillQueued_RunsLongerOncePlaced()
    {
        await _s.RegisterAsync("h1", vcpus: 1);
        await _s.CreateAsync(KindsScheduler.Request(), owner: "ops");
        var queued = await _s.BestEffortAsync("alice", duration: TimeSpan.FromHours(2));

        var extended = await _s.Leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = queued.Id, By = Duration.FromTimeSpan(TimeSpan.FromHours(1)) });

        Assert.Equal(TimeSpan.FromHours(3), extended.RunDuration.ToTimeSpan());
        Assert.Equal(queued.ExpiresAt, extended.ExpiresAt);
        Assert.Equal(1u, extended.QueuePosition);
    }

    [Fact(Timeout = 30_000)]
    public async Task Restart_KeepsEveryQueuePositionAndReservation_AndTheQueueGoesOnInOrder()
    {
        using var directory = new TempDirectory();
        var database = Path.Combine(directory.Path, "scheduler.db");
        var clock = new ManualClock(KindsScheduler.Start);
        Lease filler, a1, a2, b1, reservation;
        await using (var first = await KindsScheduler.StartAsync(clock, database))
        {
            await first.RegisterAsync("h1", vcpus: 2);
            filler = await first.CreateAsync(KindsScheduler.Request(vcpus: 2), owner: "ops");
            a1 = await first.BestEffortAsync("alice", vcpus: 2);
            a2 = await first.BestEffortAsync("alice");
            b1 = await first.BestEffortAsync("bob", vcpus: 2);
            reservation = await first.ReserveAsync(KindsScheduler.Start + TimeSpan.FromDays(2), TimeSpan.FromHours(4), vcpus: 2, owner: "carol");
        }

        await using var second = await KindsScheduler.StartAsync(clock, database);
        var after = (await second.Leases.ListLeasesAsync(new ListLeasesRequest())).Leases.ToDictionary(l => l.Id);
        await second.HeartbeatAsync("h1", vcpus: 2, held: filler.Id);
        await second.EndAsync(filler);
        var placed = await second.WaitForAsync(a1.Id, l => l.State == LeaseState.Starting);

        Assert.Equal(1u, after[a1.Id].QueuePosition);
        Assert.Equal(2u, after[a2.Id].QueuePosition);
        Assert.Equal(1u, after[b1.Id].QueuePosition);
        Assert.Equal(a1.QueuedAt, after[a1.Id].QueuedAt);
        var kept = after[reservation.Id];
        Assert.Equal((LeaseState.Pending, "h1", reservation.Start, reservation.ExpiresAt), (kept.State, kept.HostId, kept.Start, kept.ExpiresAt));
        Assert.Equal("h1", placed.HostId);
        Assert.Equal(LeaseState.Pending, (await second.GetAsync(b1.Id)).State);
    }

    [Fact(Timeout = 30_000)]
    public async Task CreateLease_TwentyClientsRaceForEightVcpus_NoOversubscription()
    {
        await _s.RegisterAsync("only", vcpus: 8);

        var leases = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => i % 2 == 0
            ? _s.CreateAsync(KindsScheduler.Request(), owner: $"user{i % 4}")
            : _s.BestEffortAsync($"user{i % 4}")));

        Assert.Equal(8, leases.Count(l => l.State == LeaseState.Starting));
        Assert.Equal(12, leases.Count(l => l.State is LeaseState.Failed or LeaseState.Pending));
        Assert.All(leases.Where(l => l.State == LeaseState.Failed), l => Assert.Equal(LeaseKind.Immediate, l.Kind));
        Assert.All(leases.Where(l => l.State == LeaseState.Pending), l => Assert.Equal(LeaseKind.BestEffort, l.Kind));
        Assert.Equal(8, (await _s.DesiredAsync("only")).Workspaces.Count);
        Assert.Equal(8u, (await _s.Hosts.GetHostAsync(new GetHostRequest { HostId = "only" })).Allocated.Vcpus);
    }

    [Theory(Timeout = 10_000)]
    [InlineData(LeaseKind.Immediate, true, false, "start is only for LEASE_KIND_RESERVATION")]
    [InlineData(LeaseKind.BestEffort, true, false, "start is only for LEASE_KIND_RESERVATION")]
    [InlineData(LeaseKind.Reservation, false, false, "start is missing")]
    [InlineData(LeaseKind.Immediate, false, true, "queue_limit is only for LEASE_KIND_BEST_EFFORT")]
    [InlineData((LeaseKind)9, false, false, "kind is 9")]
    public async Task CreateLease_FieldsThatDoNotGoWithTheKind_InvalidArgument(LeaseKind kind, bool start, bool queueLimit, string problem)
    {
        var request = KindsScheduler.Request(kind, start: start ? KindsScheduler.Start.AddDays(1) : null);
        request.QueueLimit = queueLimit ? Duration.FromTimeSpan(TimeSpan.FromHours(1)) : null;

        var error = await Assert.ThrowsAsync<RpcException>(() => _s.CreateAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Empty((await _s.Leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }
}
