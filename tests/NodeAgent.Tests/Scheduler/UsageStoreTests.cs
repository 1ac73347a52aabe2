using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Usage;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Usage in a real SQLite file: the step-11 migration of a step-10 database that holds usage.</summary>
public sealed class UsageStoreTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly HostId H1 = HostId.Parse("h1");
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    /// <summary>A database as a step-10 scheduler left it: h1 sent 1, 2, 3 and 5 (acknowledged up to 3), h2 sent 7.</summary>
    private void CreateStepTenDatabase()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        Migrations.Apply(connection, 10);
        var start = UsageStore.Nanos(Start);
        SqliteDatabase.Execute(connection, $"""
            INSERT INTO usage (host_id, sequence, lease_id, owner, project, period_start, period_seconds, cpu_seconds, vcpu_seconds,
                               memory_bytes, memory_resident_bytes, net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets,
                               disk_read_bytes, disk_write_bytes, disk_read_ops, disk_write_ops, powered_on_seconds, received_at)
            VALUES ('h1', 1, 'w-aaaaaaaaaa', 'alice', 'genomics', {start}, 60, 30.5, 20, 1073741824, 734003200, 1000, 2000, 10, 20, 4096, 8192, 1, 2, 60, 1800000000000),
                   ('h1', 2, 'w-aaaaaaaaaa', 'alice', 'genomics', {start + 60_000_000_000}, 60, 30, 20, 1073741824, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1800000000000),
                   ('h1', 3, 'w-bbbbbbbbbb', 'bob', 'bob', {start + 120_000_000_000}, 60, 30, 20, 1073741824, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30, 1800000000000),
                   ('h1', 5, 'w-aaaaaaaaaa', 'alice', 'genomics', {start + 240_000_000_000}, 60, 30, 20, 1073741824, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1800000000000),
                   ('h2', 7, 'w-cccccccccc', 'alice', 'alice', {start}, 60, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1800000000000);
            INSERT INTO usage_acknowledged (host_id, sequence) VALUES ('h1', 3), ('h2', 7);
            """);
        Assert.Equal(10, Migrations.CurrentVersion(connection));
    }

    [Fact]
    public async Task Open_StepTenDatabaseWithUsage_KeepsEveryRowAsEpoch0_AndEpochsCountSeparatelyAfterIt()
    {
        CreateStepTenDatabase();

        using var database = new SqliteDatabase(DatabasePath);
        var store = new UsageStore(database);
        var all = new UsageQuery(null, null, Start.AddDays(-1), Start.AddDays(1));
        var kept = store.Query(all, 100);

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Equal([("h1", 1L), ("h2", 7L), ("h1", 2L), ("h1", 3L), ("h1", 5L)], kept.Select(e => (e.Host.Value, e.Sequence)));
        Assert.All(kept, e => Assert.Equal(0UL, e.JournalEpoch));
        var first = kept[0];
        Assert.Equal(("w-aaaaaaaaaa", "alice", "genomics", Start, 60, 30.5, 734003200L, 8192L, 2L), (first.LeaseId, first.Owner, first.Project, first.PeriodStart,
            first.PeriodSeconds, first.CpuSeconds, first.MemoryResidentBytes, first.DiskWriteBytes, first.DiskWriteOps));
        Assert.Equal((3L, 7L, 0L), (store.Acknowledged(H1, 0), store.Acknowledged(HostId.Parse("h2"), 0), store.Acknowledged(H1, 42)));
        Assert.Equal(["usage_by_lease", "usage_by_owner", "usage_by_project"], Indexes(database));

        // Epoch 0 (an agent from before epochs) goes on where it was; a new epoch's 1 and 2 are new records, not resends.
        var resent = await store.AppendAsync(H1, 0, [Entry(0, 3)], Start);
        var filled = await store.AppendAsync(H1, 0, [Entry(0, 4)], Start);
        var fresh = await store.AppendAsync(H1, 42, [Entry(42, 1), Entry(42, 2)], Start);

        Assert.Equal(new UsageAppendResult(0, 3), resent);
        Assert.Equal(new UsageAppendResult(1, 5), filled);
        Assert.Equal(new UsageAppendResult(2, 2), fresh);
        Assert.Equal(8, store.Query(all, 100).Count);
        Assert.Equal((5L, 2L), (store.Acknowledged(H1, 0), store.Acknowledged(H1, 42)));
    }

    [Fact]
    public async Task AppendAsync_EntryOfAnotherEpoch_ThrowsAndStoresNothing()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new UsageStore(database);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAsync(H1, 1, [Entry(1, 1), Entry(2, 2)], Start));

        Assert.Contains("journal epoch 2, not the batch's 1", e.Message, StringComparison.Ordinal);
        Assert.Empty(store.Query(new UsageQuery(null, null, Start.AddDays(-1), Start.AddDays(1)), 10));
    }

    private static UsageEntry Entry(ulong epoch, long sequence) => new(
        H1, epoch, sequence, "w-aaaaaaaaaa", "alice", "alice", Start.AddMinutes(sequence), 60, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60);

    private static string[] Indexes(SqliteDatabase database) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage' AND name NOT LIKE 'sqlite_%' ORDER BY name";
        using var r = command.ExecuteReader();
        var names = new List<string>();
        while (r.Read())
        {
            names.Add(r.GetString(0));
        }

        return names.ToArray();
    });
}
