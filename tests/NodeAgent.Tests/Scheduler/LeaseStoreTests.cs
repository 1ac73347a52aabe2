using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Leases in a real SQLite file: power columns, the step-5 migration, capacity and expiry of stopped leases.</summary>
public sealed class LeaseStoreTests : IDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static Lease NewLease(string id, LeaseState state, int vcpus = 1, PowerState power = PowerState.Running) => new(
        LeaseId.Parse(id), "alice", "debian-12", new Resources(vcpus, 512L << 20, 1L << 30), state, "why", HostId.Parse("h1"),
        Created, Created.AddHours(2), Created, null, power);

    private static HostRegistration Host() => new(
        HostId.Parse("h1"), "h1", "test", "x86_64", "qemu", new Resources(8, 8L << 30, 100L << 30), new Dictionary<string, string>(), []);

    /// <summary>A database as a step-4 scheduler left it: one host and two leases, written with step 4's columns.</summary>
    private void CreateStepFourDatabase()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        Migrations.Apply(connection, 4);
        SqliteDatabase.Execute(connection, """
            INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                               capacity_disk_bytes, labels, features, registered_at)
            VALUES ('h1', 'h1', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000);
            INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at, request_id)
            VALUES ('w-oldrunning', 'alice', 'debian-12', 2, 1073741824, 0, 'running', 'running on h1', 'h1', 1800000000000, 1800007200000, 1800000001000, 'r-1'),
                   ('w-oldended', 'bob', 'debian-12', 1, 536870912, 0, 'ended', 'released; removed from h1', 'h1', 1800000000000, 1800007200000, 1800000002000, NULL);
            """);
    }

    [Fact]
    public void Open_StepFourDatabase_MigratesAndKeepsItsLeasesWantingToRun()
    {
        CreateStepFourDatabase();

        using var database = new SqliteDatabase(DatabasePath);
        var store = new LeaseStore(database);
        var running = store.Read(s => s.FindLease(LeaseId.Parse("w-oldrunning")));
        var all = store.Read(s => s.ListLeases(includeEnded: true));
        var host = store.Read(s => s.FindHost(HostId.Parse("h1")));

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.NotNull(running);
        Assert.Equal(LeaseState.Running, running.State);
        Assert.Equal("running on h1", running.Reason);
        Assert.Equal(new Resources(2, 1L << 30, 0), running.Resources);
        Assert.Equal("r-1", running.RequestId);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_800_007_200_000), running.ExpiresAt);
        Assert.Equal(PowerState.Running, running.Power);
        Assert.Equal(0, running.RebootsRequested);
        Assert.Equal(0, running.RebootsDone);
        Assert.Equal(["w-oldended", "w-oldrunning"], all.Select(l => l.Id.Value).Order());
        Assert.Equal(2, host!.Allocated.Vcpus);
    }

    [Fact]
    public async Task Update_PowerAndReboots_ReadBackEqual()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Host(), Created);
        var store = new LeaseStore(database);
        var lease = NewLease("w-roundtrip", LeaseState.Running);
        await store.WriteAsync(s =>
        {
            s.Insert(lease);
            return 0;
        });

        var changed = lease with { State = LeaseState.Stopped, Power = PowerState.Stopped, RebootsRequested = 3, RebootsDone = 2, Reason = "stopped on h1", UpdatedAt = Created.AddMinutes(5) };
        await store.WriteAsync(s =>
        {
            s.Update(changed);
            return 0;
        });
        var paused = NewLease("w-insertedpaused", LeaseState.Paused, power: PowerState.Paused) with { RebootsRequested = 1, RebootsDone = 1 };
        await store.WriteAsync(s =>
        {
            s.Insert(paused);
            return 0;
        });

        Assert.Equal(changed, store.Read(s => s.FindLease(lease.Id)));
        Assert.Equal(paused, store.Read(s => s.FindLease(paused.Id)));
    }

    [Fact]
    public async Task Hosts_StoppedAndPausedLeases_CountAsAllocated()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Host(), Created);
        var store = new LeaseStore(database);
        await store.WriteAsync(s =>
        {
            s.Insert(NewLease("w-running", LeaseState.Running, vcpus: 1));
            s.Insert(NewLease("w-stopped", LeaseState.Stopped, vcpus: 2, PowerState.Stopped));
            s.Insert(NewLease("w-paused", LeaseState.Paused, vcpus: 4, PowerState.Paused));
            s.Insert(NewLease("w-ended", LeaseState.Ended, vcpus: 64));
            s.Insert(NewLease("w-failed", LeaseState.Failed, vcpus: 64));
            return 0;
        });

        var host = store.Read(s => s.FindHost(HostId.Parse("h1")))!;

        Assert.Equal(7, host.Allocated.Vcpus);
        Assert.Equal(1, host.Free.Vcpus);
    }

    [Fact]
    public async Task DueForExpiry_StoppedAndPausedLeases_ExpireLikeRunningOnes()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Host(), Created);
        var store = new LeaseStore(database);
        await store.WriteAsync(s =>
        {
            s.Insert(NewLease("w-stopped", LeaseState.Stopped, power: PowerState.Stopped));
            s.Insert(NewLease("w-paused", LeaseState.Paused, power: PowerState.Paused));
            s.Insert(NewLease("w-stopping", LeaseState.Stopping));
            return 0;
        });

        var due = store.Read(s => s.DueForExpiry(Created.AddHours(3)));
        var notYet = store.Read(s => s.DueForExpiry(Created.AddHours(1)));

        Assert.Equal(["w-paused", "w-stopped"], due.Select(l => l.Id.Value).Order());
        Assert.Empty(notYet);
    }
}
