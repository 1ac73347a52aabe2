using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Lease kinds in a real SQLite file: the step-13 migration, the queue's arrival order, and what reservations hold.</summary>
public sealed class LeaseKindsStoreTests : IDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static Lease NewLease(string id, LeaseState state, string owner = "alice", int vcpus = 1) => new(
        LeaseId.Parse(id), owner, "debian-12", new Resources(vcpus, 512L << 20, 1L << 30), state, "why", null,
        Created, Created.AddHours(2), Created, null)
    { RunFor = TimeSpan.FromHours(2) };

    private static HostRegistration Host() => new(
        HostId.Parse("h1"), "h1", "test", "x86_64", "qemu", new Resources(8, 8L << 30, 100L << 30), new Dictionary<string, string>(), []);

    [Fact]
    public void Open_StepFourteenDatabase_ItsLeasesAreImmediateAndKeepTheirRunTime()
    {
        using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            connection.Open();
            Migrations.Apply(connection, 14);
            SqliteDatabase.Execute(connection, """
                INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, created_at, expires_at, updated_at)
                VALUES ('w-old', 'alice', 'debian-12', 1, 536870912, 0, 'ended', 'released', 1800000000000, 1800007200000, 1800000001000);
                """);
        }

        using var database = new SqliteDatabase(DatabasePath);
        var old = new LeaseStore(database).Read(s => s.FindLease(LeaseId.Parse("w-old")))!;

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Equal((LeaseKind.Immediate, TimeSpan.FromHours(2), null, null, null), (old.Kind, old.RunFor, old.StartAt, old.QueuedAt, old.WantedNetwork));
    }

    [Fact]
    public async Task Insert_KindsAndTheirTimes_ReadBackEqual()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Host(), Created);
        var store = new LeaseStore(database);
        var queued = NewLease("w-queued", LeaseState.Pending) with
        {
            Kind = LeaseKind.BestEffort, QueuedAt = Created, ExpiresAt = Created.AddDays(1), RunFor = TimeSpan.FromHours(3), WantedNetwork = "default",
        };
        var reserved = NewLease("w-reserved", LeaseState.Pending) with
        {
            Kind = LeaseKind.Reservation, Host = HostId.Parse("h1"), StartAt = Created.AddDays(2), ExpiresAt = Created.AddDays(2).AddHours(4),
        };
        await store.WriteAsync(s =>
        {
            s.Insert(queued);
            s.Insert(reserved);
            return 0;
        });

        Assert.Equal(queued, store.Read(s => s.FindLease(queued.Id)));
        Assert.Equal(reserved, store.Read(s => s.FindLease(reserved.Id)));
        Assert.Equal(0, store.Read(s => s.FindHost(HostId.Parse("h1")))!.Allocated.Vcpus);
        Assert.Equal([reserved.Id], store.Read(s => s.ReservationsOverlapping(Created.AddDays(2).AddHours(3), Created.AddDays(3))).Select(l => l.Id));
        Assert.Empty(store.Read(s => s.ReservationsOverlapping(Created.AddDays(2).AddHours(4), Created.AddDays(3))));
        Assert.Empty(store.Read(s => s.ReservationsDue(Created.AddDays(2).AddMilliseconds(-1))));
        Assert.Equal([reserved.Id], store.Read(s => s.ReservationsDue(Created.AddDays(2))).Select(l => l.Id));
    }

    [Fact]
    public async Task Queued_LeasesQueuedInTheSameMillisecond_KeepTheOrderTheyArrivedIn()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new LeaseStore(database);
        string[] ids = ["w-zzzz", "w-aaaa", "w-mmmm", "w-bbbb"];
        foreach (var id in ids)
        {
            await store.WriteAsync(s =>
            {
                s.Insert(NewLease(id, LeaseState.Pending) with { Kind = LeaseKind.BestEffort, QueuedAt = Created });
                return 0;
            });
        }

        await store.WriteAsync(s =>
        {
            var second = s.FindLease(LeaseId.Parse("w-aaaa"))!;
            s.Update(second with { State = LeaseState.Ended });
            return 0;
        });

        Assert.Equal(["w-zzzz", "w-mmmm", "w-bbbb"], store.Read(s => s.Queued()).Select(l => l.Id.Value));
    }

    [Fact]
    public async Task HeldVcpusByProject_CountsLeasesHoldingCapacity_NotQueuedOrReservedOnes()
    {
        using var database = new SqliteDatabase(DatabasePath);
        await new HostStore(database).UpsertAsync(Host(), Created);
        var store = new LeaseStore(database);
        var h1 = HostId.Parse("h1");
        await store.WriteAsync(s =>
        {
            s.Insert(NewLease("w-running", LeaseState.Running, vcpus: 2) with { Host = h1 });
            s.Insert(NewLease("w-stopping", LeaseState.Stopping, vcpus: 1) with { Host = h1 });
            s.Insert(NewLease("w-bobs", LeaseState.Starting, owner: "bob", vcpus: 4) with { Host = h1 });
            s.Insert(NewLease("w-queued", LeaseState.Pending, vcpus: 8) with { Kind = LeaseKind.BestEffort, QueuedAt = Created });
            s.Insert(NewLease("w-reserved", LeaseState.Pending, vcpus: 8) with { Kind = LeaseKind.Reservation, Host = h1, StartAt = Created.AddDays(1), ExpiresAt = Created.AddDays(2) });
            return 0;
        });

        var held = store.Read(s => s.HeldVcpusByProject());

        Assert.Equal(3, held["alice"]);
        Assert.Equal(4, held["bob"]);
    }
}
