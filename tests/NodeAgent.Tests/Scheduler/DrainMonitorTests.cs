using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Contract;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Drains ending, one <see cref="DrainMonitor.CheckAsync"/> pass at a time, over the real registry and SQLite file,
/// with a clock the test moves.
/// </summary>
public sealed class DrainMonitorTests : IAsyncLifetime
{
    private static readonly HostId H1 = HostId.Parse("h1");
    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private SqliteDatabase _database = null!;
    private LeaseStore _leases = null!;
    private HostRegistry _hosts = null!;
    private DrainMonitor _monitor = null!;

    public async Task InitializeAsync()
    {
        _database = new SqliteDatabase(Path.Combine(_directory.Path, "s.db"));
        _leases = new LeaseStore(_database);
        var options = new SchedulerOptions { DatabasePath = _database.Path };
        _hosts = new HostRegistry(new HostStore(_database), options, _clock, NullLogger<HostRegistry>.Instance);
        _monitor = new DrainMonitor(_hosts, options, _clock, NullLogger<DrainMonitor>.Instance);
        await _hosts.RegisterAsync(HostAdminStoreTests.Registration("h1"), CancellationToken.None);
        await _hosts.RegisterAsync(HostAdminStoreTests.Registration("h2"), CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
        return Task.CompletedTask;
    }

    private Task<int> InsertAsync(params Lease[] leases) => _leases.WriteAsync(s =>
    {
        foreach (var lease in leases)
        {
            s.Insert(lease);
        }

        return 0;
    });

    private Task<int> EndAsync(string id) => _leases.WriteAsync(s =>
    {
        s.Update(s.FindLease(LeaseId.Parse(id))! with { State = LeaseState.Ended });
        return 0;
    });

    private Task<HostRecord> DrainAsync(TimeSpan within, string host = "h1") =>
        _hosts.SetAdminAsync(HostId.Parse(host), HostAdminAction.Drain, _clock.GetUtcNow() + within, "maintenance", "alice", CancellationToken.None);

    [Fact(Timeout = 10_000)]
    public async Task Check_DrainingHostWithoutLeases_Drained()
    {
        await InsertAsync(HostAdminStoreTests.NewLease("w-ended", LeaseState.Ended), HostAdminStoreTests.NewLease("w-onh2", LeaseState.Running, host: "h2"));
        await DrainAsync(TimeSpan.FromHours(1));
        _clock.Advance(TimeSpan.FromSeconds(5));

        var changed = await _monitor.CheckAsync(CancellationToken.None);

        var admin = _hosts.Get(H1).Admin;
        Assert.Equal(1, changed);
        Assert.Equal(HostAdminState.Drained, admin.State);
        Assert.Equal(("maintenance", "scheduler", _clock.GetUtcNow()), (admin.Reason, admin.ChangedBy, admin.Since));
        Assert.Equal(HostAdminState.Enabled, _hosts.Get(HostId.Parse("h2")).Admin.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task Check_LeasesLeftBeforeTheDeadline_StaysDrainingUntilTheLastOneEnds()
    {
        await InsertAsync(HostAdminStoreTests.NewLease("w-running", LeaseState.Running), HostAdminStoreTests.NewLease("w-stopped", LeaseState.Stopped));
        await DrainAsync(TimeSpan.FromHours(1));

        Assert.Equal(0, await _monitor.CheckAsync(CancellationToken.None));
        await EndAsync("w-running");
        _clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(0, await _monitor.CheckAsync(CancellationToken.None));
        Assert.Equal(HostAdminState.Draining, _hosts.Get(H1).Admin.State);
        await EndAsync("w-stopped");
        Assert.Equal(1, await _monitor.CheckAsync(CancellationToken.None));

        Assert.Equal(HostAdminState.Drained, _hosts.Get(H1).Admin.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task Check_DeadlinePassesWithLeases_DrainFailedNamingThemAndLeasesUntouched()
    {
        await InsertAsync(
            HostAdminStoreTests.NewLease("w-first", LeaseState.Running, minute: 1),
            HostAdminStoreTests.NewLease("w-second", LeaseState.Stopping, minute: 2),
            HostAdminStoreTests.NewLease("w-third", LeaseState.Paused, minute: 3));
        await DrainAsync(TimeSpan.FromHours(1));
        _clock.Advance(TimeSpan.FromHours(1));

        await _monitor.CheckAsync(CancellationToken.None);

        var admin = _hosts.Get(H1).Admin;
        Assert.Equal(HostAdminState.DrainFailed, admin.State);
        Assert.Equal("3 leases still hold capacity at the deadline: w-first, w-second, w-third; release them or drain again with a later deadline", admin.Reason);
        var leases = _leases.Read(s => s.LiveLeasesOn(H1));
        Assert.Equal([LeaseState.Running, LeaseState.Stopping, LeaseState.Paused], leases.OrderBy(l => l.CreatedAt).Select(l => l.State));
    }

    [Fact(Timeout = 10_000)]
    public async Task Check_DrainFailedThenDrainedAgainWithALaterDeadline_DrainedOnceTheLeaseEnds()
    {
        await InsertAsync(HostAdminStoreTests.NewLease("w-slow", LeaseState.Running));
        await DrainAsync(TimeSpan.FromMinutes(10));
        _clock.Advance(TimeSpan.FromMinutes(11));
        await _monitor.CheckAsync(CancellationToken.None);
        Assert.Equal(HostAdminState.DrainFailed, _hosts.Get(H1).Admin.State);

        var again = await DrainAsync(TimeSpan.FromHours(2));
        Assert.Equal(0, await _monitor.CheckAsync(CancellationToken.None));
        await EndAsync("w-slow");
        await _monitor.CheckAsync(CancellationToken.None);

        var admin = _hosts.Get(H1).Admin;
        Assert.Equal(HostAdminState.Draining, again.Admin.State);
        Assert.Equal(HostAdminState.Drained, admin.State);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromHours(2), admin.DrainDeadline);
    }

    [Fact(Timeout = 10_000)]
    public async Task Check_HostDisabledOrEnabledBeforeTheCheck_LeftAlone()
    {
        await DrainAsync(TimeSpan.FromHours(1));
        await _hosts.SetAdminAsync(H1, HostAdminAction.Disable, null, "changed my mind", "bob", CancellationToken.None);

        Assert.Equal(0, await _monitor.CheckAsync(CancellationToken.None));

        Assert.Equal((HostAdminState.Disabled, "bob"), (_hosts.Get(H1).Admin.State, _hosts.Get(H1).Admin.ChangedBy));
    }

    [Fact(Timeout = 10_000)]
    public async Task AdvanceDrain_OperatorChangedTheStateAfterTheRead_OperatorsChangeStands()
    {
        await DrainAsync(TimeSpan.FromHours(1));
        var readByMonitor = _hosts.Get(H1);
        await _hosts.SetAdminAsync(H1, HostAdminAction.Enable, null, "", "bob", CancellationToken.None);

        var next = await _hosts.AdvanceDrainAsync(readByMonitor, CancellationToken.None);

        Assert.Null(next);
        Assert.Equal(HostAdminState.Enabled, _hosts.Get(H1).Admin.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetAdmin_UnknownHost_NotFound() =>
        await Assert.ThrowsAsync<HostNotFoundException>(() => DrainAsync(TimeSpan.FromHours(1), host: "ghost"));
}
