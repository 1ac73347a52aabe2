using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Host admin states in a real SQLite file: round trip, the conditional update, and the step-12 migration.</summary>
public sealed class HostAdminStoreTests : IDisposable
{
    private static readonly DateTimeOffset Registered = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly HostId H1 = HostId.Parse("h1");
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    internal static HostRegistration Registration(string id) => new(
        HostId.Parse(id), id, "test", "x86_64", "qemu", new Resources(8, 8L << 30, 100L << 30), new Dictionary<string, string>(), []);

    internal static Lease NewLease(string id, LeaseState state, string host = "h1", int minute = 0) => new(
        LeaseId.Parse(id), "alice", "debian-12", new Resources(1, 512L << 20, 1L << 30), state, "why", HostId.Parse(host),
        Registered.AddMinutes(minute), Registered.AddHours(2), Registered, null, state == LeaseState.Stopped ? PowerState.Stopped : PowerState.Running);

    [Fact]
    public async Task Upsert_NewHost_EnabledSinceItsRegistration()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new HostStore(database);

        await store.UpsertAsync(Registration("h1"), Registered);

        Assert.Equal(new HostAdmin(HostAdminState.Enabled, string.Empty, null, Registered, string.Empty), store.Find(H1)!.Admin);
    }

    [Fact]
    public async Task SetAdmin_EveryField_ReadBackEqualAndKeptWhenTheAgentRegistersAgain()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new HostStore(database);
        await store.UpsertAsync(Registration("h1"), Registered);
        var before = store.Find(H1)!.Admin;
        var draining = new HostAdmin(HostAdminState.Draining, "kernel upgrade — “quoted”", Registered.AddHours(3), Registered.AddMinutes(5), "alice");
        var failed = draining with { State = HostAdminState.DrainFailed, Reason = "1 lease still holds capacity", Since = Registered.AddHours(3), ChangedBy = "scheduler" };

        Assert.True(await store.SetAdminAsync(H1, before, draining));
        Assert.Equal(draining, store.Find(H1)!.Admin);
        Assert.True(await store.SetAdminAsync(H1, draining, failed));
        await store.UpsertAsync(Registration("h1"), Registered.AddDays(1));

        Assert.Equal(failed, store.Find(H1)!.Admin);
        Assert.Equal(failed, store.List().Single().Admin);
    }

    [Fact]
    public async Task SetAdmin_StateChangedSinceItWasRead_FalseAndTheOtherChangeStands()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new HostStore(database);
        await store.UpsertAsync(Registration("h1"), Registered);
        var draining = new HostAdmin(HostAdminState.Draining, "", Registered.AddHours(3), Registered.AddMinutes(5), "alice");
        Assert.True(await store.SetAdminAsync(H1, store.Find(H1)!.Admin, draining));

        // An operator's enable lands first; a drain completion computed from the draining state must not overwrite it.
        var enabled = new HostAdmin(HostAdminState.Enabled, "", null, Registered.AddMinutes(6), "bob");
        Assert.True(await store.SetAdminAsync(H1, draining, enabled));
        var lateCompletion = await store.SetAdminAsync(H1, draining, draining with { State = HostAdminState.Drained, ChangedBy = "scheduler" });

        Assert.False(lateCompletion);
        Assert.Equal(enabled, store.Find(H1)!.Admin);
    }

    [Fact]
    public async Task SetAdmin_SameStateDifferentDeadline_False()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new HostStore(database);
        await store.UpsertAsync(Registration("h1"), Registered);
        var draining = new HostAdmin(HostAdminState.Draining, "", Registered.AddHours(3), Registered.AddMinutes(5), "alice");
        Assert.True(await store.SetAdminAsync(H1, store.Find(H1)!.Admin, draining));

        var changed = await store.SetAdminAsync(H1, draining with { DrainDeadline = Registered.AddHours(4) }, draining with { State = HostAdminState.Drained });

        Assert.False(changed);
        Assert.Equal(draining, store.Find(H1)!.Admin);
    }

    [Fact]
    public async Task SetAdmin_UnknownHost_False()
    {
        using var database = new SqliteDatabase(DatabasePath);

        Assert.False(await new HostStore(database).SetAdminAsync(HostId.Parse("ghost"), HostAdmin.Default, HostAdmin.Default with { State = HostAdminState.Disabled }));
    }

    [Fact]
    public async Task LeasesHoldingCapacity_OnlyHoldingStatesOnThatHost_OldestFirst()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var hosts = new HostStore(database);
        await hosts.UpsertAsync(Registration("h1"), Registered);
        await hosts.UpsertAsync(Registration("h2"), Registered);
        await new LeaseStore(database).WriteAsync(s =>
        {
            s.Insert(NewLease("w-running", LeaseState.Running, minute: 3));
            s.Insert(NewLease("w-stopping", LeaseState.Stopping, minute: 1));
            s.Insert(NewLease("w-stopped", LeaseState.Stopped, minute: 2));
            s.Insert(NewLease("w-ended", LeaseState.Ended));
            s.Insert(NewLease("w-failed", LeaseState.Failed));
            s.Insert(NewLease("w-elsewhere", LeaseState.Running, host: "h2"));
            return 0;
        });

        var holding = hosts.LeasesHoldingCapacity(H1);

        Assert.Equal(["w-stopping", "w-stopped", "w-running"], holding.Select(l => l.Value));
    }

    [Fact]
    public void Open_StepElevenDatabase_KeepsItsHostsEnabledSinceRegistration()
    {
        using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            connection.Open();
            Migrations.Apply(connection, 11);
            SqliteDatabase.Execute(connection, """
                INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                                   capacity_disk_bytes, labels, features, registered_at, last_heartbeat_at, degraded_reason, networks)
                VALUES ('h1', 'h1.example', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{"rack":"r1"}', '[]', 1800000000000, 1800000005000, '', '["lan"]'),
                       ('h2', 'h2.example', 'old', 'x86_64', 'kvm', 4, 4294967296, 0, '{}', '["gpu"]', 1800000100000, NULL, 'libvirt is down', '[]');
                """);
            Assert.Equal(11, Migrations.CurrentVersion(connection));
        }

        using var database = new SqliteDatabase(DatabasePath);
        var hosts = new HostStore(database).List();

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Equal(["h1", "h2"], hosts.Select(h => h.Id.Value));
        Assert.Equal(new HostAdmin(HostAdminState.Enabled, string.Empty, null, Registered, string.Empty), hosts[0].Admin);
        Assert.Equal(Registered.AddSeconds(100), hosts[1].Admin.Since);
        Assert.Equal(("r1", "lan", "libvirt is down"), (hosts[0].Registration.Labels["rack"], hosts[0].Registration.Networks.Single(), hosts[1].DegradedReason));
    }

    [Fact]
    public async Task Schema_UnknownAdminState_RefusedByTheCheckConstraint()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Registration("h1"), Registered);

        var error = Assert.Throws<StoreException>(() => database.Read(c =>
        {
            SqliteDatabase.Execute(c, "UPDATE hosts SET admin_state = 'paused' WHERE host_id = 'h1'");
            return 0;
        }));

        Assert.Contains("CHECK constraint failed: admin_state", error.Message, StringComparison.Ordinal);
    }
}
