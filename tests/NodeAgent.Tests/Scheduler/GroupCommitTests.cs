using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Writes that queue behind a running one commit together, in a real SQLite file: each succeeds or fails alone, a
/// commit that fails fails them all and the host cache is read again, and nothing is answered before its commit.
/// </summary>
public sealed class GroupCommitTests : IDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static Lease NewLease(int n, string host) => new(
        LeaseId.Parse($"w-{n:D4}"), "alice", "debian-12", new Resources(1, 1L << 30, 1L << 30), LeaseState.Running, "running",
        HostId.Parse(host), Created, Created.AddHours(2), Created, null, PowerState.Running);

    private async Task<SqliteDatabase> OpenAsync()
    {
        var database = new SqliteDatabase(Path.Combine(_directory.Path, "s.db"));
        await new HostStore(database).UpsertAsync(
            new HostRegistration(HostId.Parse("h1"), "h1", "test", "x86_64", "qemu", new Resources(64, 256L << 30, 1L << 40), new Dictionary<string, string>(), []),
            Created);
        return database;
    }

    /// <summary>Holds the writer inside a write until released, so the writes started meanwhile queue into one batch.</summary>
    private static (Task Held, ManualResetEventSlim Release) HoldTheWriter(LeaseStore store)
    {
        var inside = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var held = Task.Run(() => store.WriteAsync(_ =>
        {
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return 0;
        }));
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)), "the holding write did not start");
        return (held, release);
    }

    /// <summary>Queues a write that is fine until its batch commits, then fails it: a deferred foreign key is checked at COMMIT.</summary>
    private static Task<int> BreakTheBatch(SqliteDatabase database) => Task.Run(() => database.WriteAsync((connection, transaction) =>
    {
        SqliteDatabase.Execute(connection, "PRAGMA defer_foreign_keys = ON", transaction);
        SqliteDatabase.Execute(connection, """
            INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, host_id, created_at, expires_at, updated_at)
            VALUES ('w-9999', 'mallory', 'i', 1, 1, 1, 'ended', 'no-such-host', 1, 2, 1)
            """, transaction);
        return 0;
    }));

    private static long CountLeases(SqliteDatabase database) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM leases";
        return (long)command.ExecuteScalar()!;
    });

    [Fact]
    public async Task QueuedWrites_OneThrows_OnlyItIsRolledBack_AndTheOthersCommitAndSeeEachOther()
    {
        using var database = await OpenAsync();
        var store = new LeaseStore(database);
        var hosts = new HostStore(database);
        var (held, release) = HoldTheWriter(store);

        var seen = new int[3];
        var committed = new int[3];
        var writes = new List<Task>();
        for (var i = 0; i < 3; i++)
        {
            var n = i;
            writes.Add(Task.Run(() => store.WriteAsync(s =>
            {
                s.Insert(NewLease(n, "h1"));
                s.AfterCommit(() => committed[n]++);
                seen[n] = s.Hosts().Single().Allocated.Vcpus;
                return n == 1 ? throw new InvalidOperationException("write 1 fails after its insert") : n;
            })));
        }

        await Task.Delay(300);
        Assert.All(writes, w => Assert.False(w.IsCompleted, "a write finished while the writer was held"));
        Assert.Equal([0, 0, 0], committed);

        release.Set();
        await held;
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => writes[1]);
        Assert.Equal("write 1 fails after its insert", failed.Message);
        await writes[0];
        await writes[2];

        Assert.Equal(2, CountLeases(database));
        Assert.Equal(2, hosts.Find(HostId.Parse("h1"))!.Allocated.Vcpus);
        Assert.Null(store.Read(s => s.FindLease(LeaseId.Parse("w-0001"))));
        // The second to commit saw the first's claim with its own; neither saw the rolled-back write's.
        Assert.Equal([1, 2], new[] { seen[0], seen[2] }.Order());
        // What each write left for after its commit ran once, and not for the write rolled back.
        Assert.Equal([1, 0, 1], committed);
    }

    [Fact]
    public async Task CommitThatFails_FailsEveryWriteOfTheBatch_AndTheHostCacheIsReadAgain()
    {
        using var database = await OpenAsync();
        var store = new LeaseStore(database);
        var hosts = new HostStore(database);
        _ = hosts.List();
        var (held, release) = HoldTheWriter(store);

        var counted = 0;
        var versionBefore = hosts.Find(HostId.Parse("h1"))!.DesiredVersion;
        long versionNeverCommitted = 0;
        var good = Task.Run(() => store.WriteAsync(s =>
        {
            s.Insert(NewLease(1, "h1"));
            versionNeverCommitted = s.StoredDesiredVersion(HostId.Parse("h1"))!.Value;
            s.AfterCommit(() => counted++);
            return 0;
        }));
        await Task.Delay(200);
        var breaking = BreakTheBatch(database);
        await Task.Delay(200);
        release.Set();

        // The two queued while the holding write ran joined its transaction, so it fails with them.
        await Assert.ThrowsAsync<StoreException>(() => held);
        var failure = await Assert.ThrowsAsync<StoreException>(() => good);
        Assert.Contains("FOREIGN KEY", failure.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoreException>(() => breaking);
        Assert.Equal(0, CountLeases(database));
        Assert.Equal(0, counted);
        Assert.Equal(Resources.None, hosts.Find(HostId.Parse("h1"))!.Allocated);

        // Read again, every host has a version never given out before: neither the one it had, nor the failed write's.
        var versionAfter = hosts.Find(HostId.Parse("h1"))!.DesiredVersion;
        Assert.NotEqual(versionBefore, versionNeverCommitted);
        Assert.True(versionAfter > versionNeverCommitted, $"{versionAfter} after the failed commit, {versionNeverCommitted} in it");

        // The writer carries on.
        await store.WriteAsync(s => { s.Insert(NewLease(2, "h1")); return 0; });
        Assert.Equal(1, hosts.Find(HostId.Parse("h1"))!.Allocated.Vcpus);
    }

    [Fact]
    public async Task CommitThatFails_AfterAQuotaChangeALeaseWriteRead_TheWriterForgetsThatQuota()
    {
        using var database = await OpenAsync();
        var store = new LeaseStore(database);
        var (held, release) = HoldTheWriter(store);

        var change = Task.Run(() => new QuotaStore(database).ChangeAsync("alice", (own, _) => own with { MaxVcpus = 4 }, "admin", Created));
        await Task.Delay(200);
        var seenInTheBatch = Task.Run(() => store.WriteAsync(s => s.QuotaOf("alice").Own.MaxVcpus));
        await Task.Delay(200);
        var breaking = BreakTheBatch(database);
        await Task.Delay(200);
        release.Set();

        await Assert.ThrowsAsync<StoreException>(() => held);
        await Assert.ThrowsAsync<StoreException>(() => change);
        await Assert.ThrowsAsync<StoreException>(() => seenInTheBatch);
        await Assert.ThrowsAsync<StoreException>(() => breaking);
        Assert.Null(await store.WriteAsync(s => s.QuotaOf("alice").Own.MaxVcpus));
    }

    [Fact]
    public async Task WritesQueuedWhileATransactionRuns_JoinIt_AndCommitWithIt()
    {
        using var database = await OpenAsync();
        var commits = new Commits();
        database.Commits = commits;
        var store = new LeaseStore(database);
        var (held, release) = HoldTheWriter(store);

        // Queued at once: the writer is held, so each call only queues its write and returns.
        var writes = Enumerable.Range(0, 5).Select(n => store.WriteAsync(s =>
        {
            s.Insert(NewLease(n, "h1"));
            return n;
        })).ToList();
        await Task.Delay(100);
        Assert.Empty(commits.Writes);

        release.Set();
        await held;
        await Task.WhenAll(writes);

        Assert.Equal([6], commits.Writes);
        Assert.Equal(5, CountLeases(database));
    }

    /// <summary>How many writes each commit carried.</summary>
    private sealed class Commits : ICommitObserver
    {
        public System.Collections.Concurrent.ConcurrentQueue<int> Writes { get; } = new();

        public void Committed(int writes, TimeSpan took) => Writes.Enqueue(writes);
    }

    [Fact]
    public async Task TwoHundredQueuedWrites_AllCommit_WithEveryClaimCounted()
    {
        using var database = await OpenAsync();
        var store = new LeaseStore(database);
        var (held, release) = HoldTheWriter(store);
        var writes = Enumerable.Range(0, 200).Select(n => Task.Run(() => store.WriteAsync(s => { s.Insert(NewLease(n, "h1")); return n; }))).ToList();
        await Task.Delay(300);
        release.Set();
        await held;

        Assert.Equal(Enumerable.Range(0, 200), (await Task.WhenAll(writes)).Order());
        Assert.Equal(200, CountLeases(database));
        Assert.Equal(200, new HostStore(database).Find(HostId.Parse("h1"))!.Allocated.Vcpus);
    }
}

/// <summary>The WAL is copied into the database file by the database's own checkpointer, not by a committing write.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    [Fact(Timeout = 30_000)]
    public async Task Writes_LandInTheWal_ThenTheCheckpointerCopiesThemIntoTheDatabaseFile()
    {
        var path = Path.Combine(_directory.Path, "s.db");
        using var database = new SqliteDatabase(path);
        var before = await CreateFillerAsync(database, path);

        // About 2 MiB: hundreds of pages, far below the 10,000 at which a commit would checkpoint by itself.
        await WriteFillerAsync(database, 64);

        await WaitForAsync(() => new FileInfo(path).Length >= before + (2L << 20));
        Assert.True(new FileInfo(path).Length >= before + (2L << 20));
    }

    [Fact(Timeout = 30_000)]
    public async Task WhatOpeningWrote_IsCopiedIntoTheDatabaseFile_BeforeAnyWrite()
    {
        var path = Path.Combine(_directory.Path, "s.db");
        using var database = new SqliteDatabase(path);

        // The migrations and the epoch went to the WAL; the database file has only SQLite's first page or none.
        Assert.True(new FileInfo(path + "-wal").Length > 64 << 10);
        await WaitForAsync(() => new FileInfo(path).Length > 64 << 10);
        Assert.True(new FileInfo(path).Length > 64 << 10, $"the database file is {new FileInfo(path).Length} bytes");
    }

    [Fact(Timeout = 30_000)]
    public async Task FramesAReaderHeldBack_AreCopiedOnceItLetsGo_WithoutAnotherWrite()
    {
        var path = Path.Combine(_directory.Path, "s.db");
        using var database = new SqliteDatabase(path);
        var before = await CreateFillerAsync(database, path);

        // A reader inside a transaction keeps its snapshot: no frame written after it began can be copied.
        using var reader = new SqliteConnection($"Data Source={path};Pooling=False");
        reader.Open();
        using var snapshot = reader.BeginTransaction(deferred: true);
        using (var select = reader.CreateCommand())
        {
            select.Transaction = snapshot;
            select.CommandText = "SELECT count(*) FROM filler";
            select.ExecuteScalar();
        }

        await WriteFillerAsync(database, 64);
        await Task.Delay(SqliteDatabase.CheckpointInterval * 5);
        Assert.Equal(before, new FileInfo(path).Length);

        // Once it lets go, a later pass copies them, though nothing was committed since the pass it held back.
        snapshot.Commit();
        await WaitForAsync(() => new FileInfo(path).Length >= before + (2L << 20));
        Assert.True(new FileInfo(path).Length >= before + (2L << 20));
    }

    /// <summary>Creates the filler table and waits until it is in the database file; returns the file's length then.</summary>
    private static async Task<long> CreateFillerAsync(SqliteDatabase database, string path)
    {
        await database.WriteAsync((c, t) =>
        {
            SqliteDatabase.Execute(c, "CREATE TABLE filler (data BLOB NOT NULL)", t);
            return 0;
        });
        await WaitForAsync(() => new FileInfo(path + "-wal").Length > 0 && Checkpointed(path));
        return new FileInfo(path).Length;
    }

    private static async Task WriteFillerAsync(SqliteDatabase database, int blobs)
    {
        for (var i = 0; i < blobs; i++)
        {
            await database.WriteAsync((c, t) =>
            {
                using var insert = SqliteDatabase.Command(c, t, "INSERT INTO filler (data) VALUES (zeroblob(32768))");
                return insert.ExecuteNonQuery();
            });
        }
    }

    /// <summary>Whether a PASSIVE checkpoint now finds nothing left to copy.</summary>
    private static bool Checkpointed(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        using var r = command.ExecuteReader();
        return r.Read() && r.GetInt64(1) == r.GetInt64(2);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(50);
        }
    }
}
