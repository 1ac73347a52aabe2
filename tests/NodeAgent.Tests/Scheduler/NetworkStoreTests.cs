using System.Net;
using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Networks in a real SQLite file: the step-6 migration, NICs and keys read back, and the constraints that forbid duplicates.</summary>
public sealed class NetworkStoreTests : IDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static Lease NewLease(string id, LeaseState state = LeaseState.Running) => new(
        LeaseId.Parse(id), "alice", "debian-12", new Resources(1, 512L << 20, 0), state, "why", HostId.Parse("h1"), Created, Created.AddHours(2), Created, null);

    private static NetworkAttachment Nic(string address, string mac) =>
        new("lab", mac, IPAddress.Parse(address), 24, IPAddress.Parse("10.77.0.1"), [IPAddress.Parse("10.77.0.1"), IPAddress.Parse("9.9.9.9")]);

    private static AddressReservation Reservation(string lease, string address, string mac) =>
        new("lab", IPAddress.Parse(address), LeaseId.Parse(lease), mac, AddressState.Assigned, null);

    private static async Task<LeaseStore> StoreWithHostAsync(SqliteDatabase database)
    {
        var host = new HostRegistration(HostId.Parse("h1"), "h1", "test", "x86_64", "qemu", new Resources(8, 8L << 30, 100L << 30), new Dictionary<string, string>(), [])
        {
            Networks = ["lab", "dmz"],
        };
        await new HostStore(database).UpsertAsync(host, Created);
        return new LeaseStore(database);
    }

    /// <summary>A database as a step-5 scheduler left it: a host and a running and an ended lease, without networks.</summary>
    private void CreateStepFiveDatabase()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        Migrations.Apply(connection, 5);
        SqliteDatabase.Execute(connection, """
            INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                               capacity_disk_bytes, labels, features, registered_at)
            VALUES ('h1', 'h1', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000);
            INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at, request_id,
                                power, reboots_requested, reboots_done)
            VALUES ('w-oldrunning', 'alice', 'debian-12', 2, 1073741824, 0, 'running', 'running on h1', 'h1', 1800000000000, 1800007200000, 1800000001000, 'r-1', 'stopped', 2, 1),
                   ('w-oldended', 'bob', 'debian-12', 1, 536870912, 0, 'ended', 'released; removed from h1', 'h1', 1800000000000, 1800007200000, 1800000002000, NULL, 'running', 0, 0);
            """);
    }

    [Fact]
    public void Open_StepFiveDatabase_MigratesAndKeepsItsLeasesWithoutNicsOrKeys()
    {
        CreateStepFiveDatabase();

        using var database = new SqliteDatabase(DatabasePath);
        var store = new LeaseStore(database);
        var running = store.Read(s => s.FindLease(LeaseId.Parse("w-oldrunning")))!;
        var all = store.Read(s => s.ListLeases(includeEnded: true));
        var host = new HostStore(database).Find(HostId.Parse("h1"))!;

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Equal(LeaseState.Running, running.State);
        Assert.Equal(PowerState.Stopped, running.Power);
        Assert.Equal((2, 1), (running.RebootsRequested, running.RebootsDone));
        Assert.Equal("r-1", running.RequestId);
        Assert.Empty(running.Networks);
        Assert.Empty(running.SshKeys);
        Assert.Equal(["w-oldended", "w-oldrunning"], all.Select(l => l.Id.Value).Order());
        Assert.Empty(host.Registration.Networks);
        Assert.Equal(2, host.Allocated.Vcpus);
    }

    [Fact]
    public async Task Insert_LeaseWithNicsAndKeys_ReadBackEqual()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = await StoreWithHostAsync(database);
        var lease = NewLease("w-withnics") with
        {
            Networks = [Nic("10.77.0.2", "52:54:00:00:00:02"), Nic("10.77.0.3", "52:54:00:00:00:03") with { Network = "dmz", Gateway = null, DnsServers = [] }],
            SshKeys = [SshKeys.Ed25519(), SshKeys.Ed25519("bob@desk", fill: 9)],
        };

        await store.WriteAsync(s =>
        {
            s.Insert(lease);
            s.Insert(NewLease("w-plain"));
            return 0;
        });

        Assert.Equal(lease, store.Read(s => s.FindLease(lease.Id)));
        Assert.Equal(lease, store.Read(s => s.ListLeases(includeEnded: false)).Single(l => l.Id == lease.Id));
        Assert.Empty(store.Read(s => s.FindLease(LeaseId.Parse("w-plain")))!.Networks);
        Assert.Equal(["lab", "dmz"], new HostStore(database).Find(HostId.Parse("h1"))!.Registration.Networks);
    }

    [Fact]
    public async Task Reserve_SameAddressTwice_RefusedByTheDatabase()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = await StoreWithHostAsync(database);

        var error = await Assert.ThrowsAsync<StoreException>(() => store.WriteAsync(s =>
        {
            s.Insert(NewLease("w-first"));
            s.Insert(NewLease("w-second"));
            s.Reserve(Reservation("w-first", "10.77.0.2", "52:54:00:00:00:01"));
            s.Reserve(Reservation("w-second", "10.77.0.2", "52:54:00:00:00:02"));
            return 0;
        }));

        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);
        Assert.Empty(store.Read(s => s.AddressesOn("lab")));
    }

    [Fact]
    public async Task Reserve_SameMacTwice_RefusedByTheDatabaseEvenOnAnotherNetwork()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = await StoreWithHostAsync(database);

        var error = await Assert.ThrowsAsync<StoreException>(() => store.WriteAsync(s =>
        {
            s.Insert(NewLease("w-first"));
            s.Insert(NewLease("w-second"));
            s.Reserve(Reservation("w-first", "10.77.0.2", "52:54:00:00:00:01"));
            s.Reserve(Reservation("w-second", "10.78.0.2", "52:54:00:00:00:01") with { Network = "dmz" });
            return 0;
        }));

        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_ForALeaseNeverWritten_RefusedAtCommit()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = await StoreWithHostAsync(database);

        await Assert.ThrowsAsync<StoreException>(() => store.WriteAsync(s =>
        {
            s.Reserve(Reservation("w-ghost", "10.77.0.2", "52:54:00:00:00:01"));
            return 0;
        }));

        Assert.Empty(store.Read(s => s.AddressesOn("lab")));
    }

    [Fact]
    public async Task Quarantine_ThenForgetExpired_AddressHeldUntilItsTimeThenGone()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = await StoreWithHostAsync(database);
        await store.WriteAsync(s =>
        {
            s.Reserve(Reservation("w-first", "10.77.0.2", "52:54:00:00:00:01"));
            s.Insert(NewLease("w-first"));
            return 0;
        });

        var quarantined = await store.WriteAsync(s => s.Quarantine(LeaseId.Parse("w-first"), Created.AddMinutes(10)));
        var held = store.Read(s => s.AddressesOn("lab")).Single();
        var forgottenEarly = await store.WriteAsync(s => s.ForgetExpiredQuarantine("lab", Created.AddMinutes(9)));
        var forgotten = await store.WriteAsync(s => s.ForgetExpiredQuarantine("lab", Created.AddMinutes(10)));

        Assert.Equal(1, quarantined);
        Assert.Equal(AddressState.Quarantined, held.State);
        Assert.Equal(Created.AddMinutes(10), held.QuarantinedUntil);
        Assert.True(held.HoldsAt(Created.AddMinutes(9)));
        Assert.False(held.HoldsAt(Created.AddMinutes(10)));
        Assert.Equal(0, forgottenEarly);
        Assert.Equal(1, forgotten);
        Assert.Empty(store.Read(s => s.AddressesOn("lab")));
    }
}
