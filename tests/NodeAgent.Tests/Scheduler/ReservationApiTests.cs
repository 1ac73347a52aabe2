using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Advance reservations through the scheduler's real API on a manual clock: admission and overbooking, the edges
/// of a window, the start, leases placed or extended in front of one, and clients racing for one window.
/// </summary>
public sealed class ReservationApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Tomorrow = KindsScheduler.Start + TimeSpan.FromDays(1);
    private KindsScheduler _s = null!;

    public async Task InitializeAsync() => _s = await KindsScheduler.StartAsync();

    public async Task DisposeAsync() => await _s.DisposeAsync();

    [Fact(Timeout = 10_000)]
    public async Task Reserve_HostFree_PendingOnItsHostHoldingNothingBeforeItsStart()
    {
        await _s.RegisterAsync("h1", vcpus: 4);

        var reservation = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4));
        var before = await _s.CreateAsync(KindsScheduler.Request(vcpus: 4, duration: TimeSpan.FromHours(2)));

        Assert.Equal((LeaseKind.Reservation, LeaseState.Pending, "h1"), (reservation.Kind, reservation.State, reservation.HostId));
        Assert.Equal(Tomorrow, reservation.Start.ToDateTimeOffset());
        Assert.Equal(Tomorrow + TimeSpan.FromHours(4), reservation.ExpiresAt.ToDateTimeOffset());
        Assert.Equal("reserved on h1 from 2026-12-01 08:00:00Z until 2026-12-01 12:00:00Z; it starts then", reservation.StateReason);
        Assert.Equal(LeaseState.Starting, before.State);
        Assert.DoesNotContain(reservation.Id, (await _s.DesiredAsync("h1")).Workspaces.Select(w => w.Id));
    }

    [Fact(Timeout = 10_000)]
    public async Task Reserve_WindowWouldOverbookTheHost_RefusedNamingTheWindowAndTheReason()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4), vcpus: 3);

        var refused = await _s.ReserveAsync(Tomorrow + TimeSpan.FromHours(3), TimeSpan.FromHours(4), vcpus: 2, owner: "bob");

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal(
            "no host can take it from 2026-12-01 11:00:00Z until 2026-12-01 15:00:00Z: 1 host: capacity reserved for an advance reservation",
            refused.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Reserve_WindowsMeetingAtTheirEdges_BothAdmitted()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var running = await _s.CreateAsync(KindsScheduler.Request(vcpus: 4, duration: TimeSpan.FromDays(1)));

        var afterTheLease = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4));
        var afterTheReservation = await _s.ReserveAsync(Tomorrow + TimeSpan.FromHours(4), TimeSpan.FromHours(1), owner: "bob");
        var overlapping = await _s.ReserveAsync(Tomorrow + TimeSpan.FromHours(4) - TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), vcpus: 1, owner: "carol");

        Assert.Equal(Tomorrow, running.ExpiresAt.ToDateTimeOffset());
        Assert.Equal(LeaseState.Pending, afterTheLease.State);
        Assert.Equal(LeaseState.Pending, afterTheReservation.State);
        Assert.Equal(LeaseState.Failed, overlapping.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_WouldRunIntoAReservation_GoesToAnotherHostOrFails()
    {
        await _s.RegisterAsync("h1", vcpus: 4, cpu: 0.0);
        var reservation = await _s.ReserveAsync(KindsScheduler.Start + TimeSpan.FromHours(1), TimeSpan.FromHours(4), vcpus: 3);

        var alone = await _s.CreateAsync(KindsScheduler.Request(vcpus: 2, duration: TimeSpan.FromHours(2)), owner: "bob");
        var endsAtItsStart = await _s.CreateAsync(KindsScheduler.Request(vcpus: 4, duration: TimeSpan.FromHours(1)), owner: "bob");
        await _s.EndAsync(endsAtItsStart);
        await _s.RegisterAsync("h2", vcpus: 4, cpu: 0.9);
        var elsewhere = await _s.CreateAsync(KindsScheduler.Request(vcpus: 2, duration: TimeSpan.FromHours(2)), owner: "bob");
        var fitsBeside = await _s.CreateAsync(KindsScheduler.Request(vcpus: 1, duration: TimeSpan.FromHours(8)), owner: "carol");

        Assert.Equal("h1", reservation.HostId);
        Assert.Equal(LeaseState.Failed, alone.State);
        Assert.Equal("no host can take it: 1 host: capacity reserved for an advance reservation", alone.StateReason);
        Assert.Equal(LeaseState.Starting, endsAtItsStart.State);
        Assert.Equal("h2", elsewhere.HostId);
        Assert.Equal("h1", fitsBeside.HostId);
    }

    [Fact(Timeout = 15_000)]
    public async Task Reservation_AtItsStart_BecomesAStartingWorkspaceOnItsHost()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var reservation = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4));

        await ArriveAsync(Tomorrow);
        var started = await _s.WaitForAsync(reservation.Id, l => l.State == LeaseState.Starting);

        Assert.Equal("h1", started.HostId);
        Assert.Equal("reservation started on h1; waiting for the host to start it", started.StateReason);
        Assert.Equal(reservation.ExpiresAt, started.ExpiresAt);
        Assert.Contains(reservation.Id, (await _s.DesiredAsync("h1")).Workspaces.Select(w => w.Id));
    }

    [Fact(Timeout = 15_000)]
    public async Task Reservation_StartsTheMomentTheLeaseBeforeItEnds_ThoughThatWorkspaceIsStillBeingRemoved()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var before = await _s.CreateAsync(KindsScheduler.Request(vcpus: 4, duration: TimeSpan.FromHours(2)));
        var reservation = await _s.ReserveAsync(KindsScheduler.Start + TimeSpan.FromHours(2), TimeSpan.FromHours(1));

        await ArriveAsync(KindsScheduler.Start + TimeSpan.FromHours(2), before.Id);
        var started = await _s.WaitForAsync(reservation.Id, l => l.State == LeaseState.Starting);

        // The lease before it is destroyed after expiry's grace (docs/expiry.md); the reservation did not wait for that.
        _s.Clock.Advance(NodeAgent.Scheduler.Leases.LeaseExpiryPolicy.Default.Grace);
        var expired = await _s.WaitForAsync(before.Id, l => l.State == LeaseState.Stopping);

        Assert.Equal(LeaseState.Pending, reservation.State);
        Assert.Equal("h1", started.HostId);
        Assert.StartsWith("expired at 2026-11-30 10:00:00Z", expired.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 15_000)]
    public async Task Reservation_HostDownAtItsStart_FailsSayingSo()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var reservation = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4));

        _s.Clock.Advance(TimeSpan.FromDays(1));
        var failed = await _s.WaitForAsync(reservation.Id, l => l.State == LeaseState.Failed);

        Assert.Equal("its reserved host h1 cannot start it at its start (2026-12-01 08:00:00Z): 1 host: down (no recent heartbeat)", failed.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task ExtendLease_IntoAReservationThatNeedsTheHost_RefusedNamingItsStart()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var lease = await _s.CreateAsync(KindsScheduler.Request(vcpus: 2, duration: TimeSpan.FromHours(2)));
        var reservation = await _s.ReserveAsync(KindsScheduler.Start + TimeSpan.FromHours(2.5), TimeSpan.FromHours(1), vcpus: 3, owner: "bob");

        var tooFar = await Assert.ThrowsAsync<RpcException>(() => ExtendAsync(lease.Id, TimeSpan.FromHours(1)));
        var upToIt = await ExtendAsync(lease.Id, TimeSpan.FromMinutes(30));
        var atAll = await Assert.ThrowsAsync<RpcException>(() => ExtendAsync(lease.Id, TimeSpan.FromMinutes(1)));

        Assert.Equal(StatusCode.FailedPrecondition, tooFar.Status);
        Assert.Equal(
            $"lease {lease.Id} cannot run until 2026-11-30 11:00:00Z: its host h1 is reserved from 2026-11-30 10:30:00Z (lease {reservation.Id}) " +
            "and has no room for it then; extend it by at most 30 minutes, to end by 2026-11-30 10:30:00Z",
            tooFar.Message);
        Assert.Equal(KindsScheduler.Start + TimeSpan.FromHours(2.5), upToIt.ExpiresAt.ToDateTimeOffset());
        Assert.Contains("cannot be extended past 2026-11-30 10:30:00Z", atAll.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task ExtendLease_RoomBesideTheReservation_ExtendsAndAReservationExtendsUpToTheNext()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var lease = await _s.CreateAsync(KindsScheduler.Request(vcpus: 1, duration: TimeSpan.FromHours(2)));
        await _s.ReserveAsync(KindsScheduler.Start + TimeSpan.FromHours(3), TimeSpan.FromHours(1), vcpus: 3, owner: "bob");
        var second = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(1), vcpus: 4, owner: "carol");
        await _s.ReserveAsync(Tomorrow + TimeSpan.FromHours(2), TimeSpan.FromHours(1), vcpus: 4, owner: "dave");

        var extended = await ExtendAsync(lease.Id, TimeSpan.FromHours(4));
        var reservationLonger = await ExtendAsync(second.Id, TimeSpan.FromHours(1));
        var intoTheNext = await Assert.ThrowsAsync<RpcException>(() => ExtendAsync(second.Id, TimeSpan.FromMinutes(1)));

        Assert.Equal(KindsScheduler.Start + TimeSpan.FromHours(6), extended.ExpiresAt.ToDateTimeOffset());
        Assert.Equal(Tomorrow + TimeSpan.FromHours(2), reservationLonger.ExpiresAt.ToDateTimeOffset());
        Assert.Equal(StatusCode.FailedPrecondition, intoTheNext.Status);
        Assert.Contains("is reserved from 2026-12-01 10:00:00Z", intoTheNext.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task ReleaseLease_ReservationBeforeItsStart_EndsAndFreesItsWindow()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var reservation = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4));

        var released = await _s.Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = reservation.Id });
        var again = await _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(4), owner: "bob");

        Assert.Equal(LeaseState.Ended, released.State);
        Assert.Equal("released before its start at 2026-12-01 08:00:00Z; its capacity on h1 is free again", released.StateReason);
        Assert.Equal(LeaseState.Pending, again.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task Reserve_StartNotInTheFuture_OutOfRangeAndNothingStored()
    {
        await _s.RegisterAsync("h1");

        var error = await Assert.ThrowsAsync<RpcException>(() => _s.ReserveAsync(KindsScheduler.Start, TimeSpan.FromHours(1)));

        Assert.Equal(StatusCode.OutOfRange, error.Status);
        Assert.Contains("start 2026-11-30 08:00:00Z is not in the future", error.Message, StringComparison.Ordinal);
        Assert.Empty((await _s.Leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task Reserve_DryRun_SaysWhichHostWouldKeepTheWindow()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var request = KindsScheduler.Request(LeaseKind.Reservation, vcpus: 2, start: Tomorrow);
        request.DryRun = true;

        var plan = await _s.CreateAsync(request);

        Assert.StartsWith("would be reserved on h1", plan.StateReason, StringComparison.Ordinal);
        Assert.Empty((await _s.Leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reserve_TenClientsRaceForOneWindow_OnlyWhatFitsIsAdmitted()
    {
        await _s.RegisterAsync("h1", vcpus: 4);

        var leases = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => _s.ReserveAsync(Tomorrow, TimeSpan.FromHours(2), vcpus: 1, owner: $"user{i}")));

        Assert.Equal(4, leases.Count(l => l.State == LeaseState.Pending));
        Assert.Equal(6, leases.Count(l => l.State == LeaseState.Failed));
    }

    /// <summary>Moves the clock to <paramref name="at"/> with h1 heartbeating a second before, so the host is up when the moment comes.</summary>
    private async Task ArriveAsync(DateTimeOffset at, params string[] held)
    {
        _s.Clock.Advance(at - TimeSpan.FromSeconds(1) - _s.Clock.GetUtcNow());
        await _s.HeartbeatAsync("h1", held: held);
        _s.Clock.Advance(TimeSpan.FromSeconds(1));
    }

    private Task<Lease> ExtendAsync(string id, TimeSpan by) =>
        _s.Leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = id, By = Duration.FromTimeSpan(by) });
}
