using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// What leases hold on each host, how many are stopping and the host's desired version, which on SQLite the in-memory
/// <see cref="HostCache"/> keeps (schema step 25): checked against what the leases table says, in a real SQLite file,
/// through failed writes, re-registration and reopening.
/// </summary>
public sealed class HostHoldingsTests : IDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly string[] HostIds = ["h1", "h2", "h3"];
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static HostRegistration Host(string id) => new(
        HostId.Parse(id), id, "test", "x86_64", "qemu", new Resources(64, 256L << 30, 1L << 40), new Dictionary<string, string>(), []);

    private static Lease NewLease(int n, LeaseState state, string? host) => new(
        LeaseId.Parse($"w-{n:D4}"), "alice", "debian-12", new Resources(1 + (n % 4), (512L << 20) * (1 + (n % 3)), 1L << 30), state, "why",
        host is null ? null : HostId.Parse(host), Created, Created.AddHours(2), Created, null, PowerState.Running)
    {
        DataDiskBytes = n % 5 == 0 ? [1L << 30, 2L << 30] : [],
    };

    /// <summary>What the leases table says each host holds, summed the slow way.</summary>
    private static Dictionary<string, Resources> HeldFromLeases(SqliteDatabase database) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT h.host_id, COALESCE(SUM(l.vcpus), 0), COALESCE(SUM(l.memory_bytes), 0), COALESCE(SUM(l.disk_bytes + l.data_disk_total_bytes), 0)
            FROM hosts h LEFT JOIN leases l ON l.host_id = h.host_id AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
            GROUP BY h.host_id
            """;
        using var r = command.ExecuteReader();
        var held = new Dictionary<string, Resources>();
        while (r.Read())
        {
            held[r.GetString(0)] = new Resources(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3));
        }

        return held;
    });

    private static async Task<SqliteDatabase> OpenWithHostsAsync(string path)
    {
        var database = new SqliteDatabase(path);
        var hosts = new HostStore(database);
        foreach (var id in HostIds)
        {
            await hosts.UpsertAsync(Host(id), Created);
        }

        return database;
    }

    /// <summary>What lease writes change on a host but its version.</summary>
    private static List<(string, Resources, int)> Holdings(IEnumerable<HostRecord> hosts) =>
        hosts.Select(h => (h.Id.Value, h.Allocated, h.StoppingLeases)).ToList();

    private static Dictionary<string, long> Versions(HostStore hosts) => hosts.List().ToDictionary(h => h.Id.Value, h => h.DesiredVersion);

    [Fact]
    public async Task RandomLeaseChanges_HeldOnEveryHost_EqualsTheSumOverItsLeases_InTheCacheAndAfterReopening()
    {
        var database = await OpenWithHostsAsync(DatabasePath);
        var store = new LeaseStore(database);
        var hostStore = new HostStore(database);
        _ = hostStore.List(); // loads the cache before any lease exists, so every later change must reach it
        var random = new Random(17);
        var states = Enum.GetValues<LeaseState>();
        var leases = new List<Lease>();
        for (var step = 0; step < 400; step++)
        {
            var host = random.Next(4) == 0 ? null : HostIds[random.Next(HostIds.Length)];
            var state = states[random.Next(states.Length)];
            if (leases.Count == 0 || random.Next(3) == 0)
            {
                var lease = NewLease(leases.Count, state, host);
                await store.WriteAsync(s => { s.Insert(lease); return 0; });
                leases.Add(lease);
            }
            else
            {
                var index = random.Next(leases.Count);
                leases[index] = leases[index] with { State = state, Host = host is null ? null : HostId.Parse(host) };
                await store.WriteAsync(s => { s.Update(leases[index]); return 0; });
            }

            var expected = HeldFromLeases(database);
            foreach (var id in HostIds)
            {
                Assert.Equal(expected[id], hostStore.Find(HostId.Parse(id))!.Allocated);
            }
        }

        Assert.Contains(hostStore.List(), h => h.Allocated.Vcpus > 0);
        Assert.Contains(hostStore.List(), h => h.StoppingLeases > 0);
        var held = Holdings(hostStore.List());
        var versions = Versions(hostStore);
        database.Dispose();

        // Opened again, the leases are summed to the same holdings, and every host has a version of the new epoch,
        // above any the last run gave out: an agent that holds one of those fetches its set again.
        using var reopened = new SqliteDatabase(DatabasePath);
        var reopenedHosts = new HostStore(reopened);
        Assert.Equal(held, Holdings(reopenedHosts.List()));
        Assert.All(reopenedHosts.List(), h => Assert.True(h.DesiredVersion > versions.Values.Max(), $"{h.Id} has version {h.DesiredVersion} again"));
        Assert.Equal(HostIds.Length, reopenedHosts.List().Select(h => h.DesiredVersion).Distinct().Count());
    }

    [Fact]
    public async Task Session_AfterPlacingOnAHost_SeesItsOwnClaim_AndTheCacheOnlyOnceCommitted()
    {
        using var database = await OpenWithHostsAsync(DatabasePath);
        var store = new LeaseStore(database);
        var hostStore = new HostStore(database);
        var h2 = HostId.Parse("h2");

        var inside = await store.WriteAsync(s =>
        {
            s.Insert(NewLease(1, LeaseState.Starting, "h2"));
            var seenInList = s.Hosts().Single(h => h.Id == h2).Allocated;
            var seenByFind = s.FindHost(h2)!.Allocated;
            var cachedMeanwhile = hostStore.Find(h2)!.Allocated;
            return (seenInList, seenByFind, cachedMeanwhile);
        });

        Assert.Equal(new Resources(2, 1L << 30, 1L << 30), inside.seenInList);
        Assert.Equal(inside.seenInList, inside.seenByFind);
        Assert.Equal(Resources.None, inside.cachedMeanwhile);
        Assert.Equal(inside.seenInList, hostStore.Find(h2)!.Allocated);
    }

    [Fact]
    public async Task Insert_OfALeaseHoldingCapacity_BumpsItsHostsDesiredVersion_OthersDoNot_PublishedOnceCommitted()
    {
        using var database = await OpenWithHostsAsync(DatabasePath);
        var store = new LeaseStore(database);
        var hostStore = new HostStore(database);
        var before = Versions(hostStore);
        var h1 = HostId.Parse("h1");

        var inside = await store.WriteAsync(s =>
        {
            s.Insert(NewLease(1, LeaseState.Starting, "h1"));
            var afterFirst = s.StoredDesiredVersion(h1)!.Value;
            s.Insert(NewLease(2, LeaseState.Running, "h1"));
            s.Insert(NewLease(3, LeaseState.Failed, "h2"));
            s.Insert(NewLease(4, LeaseState.Pending, "h3") with { Kind = LeaseKind.Reservation, StartAt = Created.AddHours(1) });
            s.Insert(NewLease(5, LeaseState.Pending, null));
            return (afterFirst, afterSecond: s.StoredDesiredVersion(h1)!.Value, readersSee: hostStore.Find(h1)!.DesiredVersion);
        });

        // A placement is in its host's desired set, so each one gives the host a new version; the write sees its own,
        // while readers (a heartbeat, the watch) see the version as committed until the write has committed.
        Assert.True(inside.afterFirst > before["h1"] && inside.afterSecond > inside.afterFirst, $"{before["h1"]}, {inside.afterFirst}, {inside.afterSecond}");
        Assert.Equal(before["h1"], inside.readersSee);
        var after = Versions(hostStore);
        Assert.Equal(inside.afterSecond, after["h1"]);
        Assert.Equal((before["h2"], before["h3"]), (after["h2"], after["h3"]));
    }

    [Fact]
    public async Task Reregistration_OfAHostWithLeases_KeepsWhatTheyHoldItsStoppingCountAndItsVersion()
    {
        using var database = await OpenWithHostsAsync(DatabasePath);
        var store = new LeaseStore(database);
        var hostStore = new HostStore(database);
        await store.WriteAsync(s =>
        {
            s.Insert(NewLease(1, LeaseState.Running, "h1"));
            s.Insert(NewLease(2, LeaseState.Stopping, "h1"));
            return 0;
        });
        var before = hostStore.Find(HostId.Parse("h1"))!;

        // The row the registration reads back holds none of these (they are not on SQLite's rows); the cache keeps its own.
        await hostStore.UpsertAsync(Host("h1") with { AgentVersion = "newer" }, Created.AddMinutes(1));

        var after = hostStore.Find(HostId.Parse("h1"))!;
        Assert.Equal("newer", after.Registration.AgentVersion);
        Assert.Equal((before.Allocated, 1, before.DesiredVersion), (after.Allocated, after.StoppingLeases, after.DesiredVersion));
        Assert.Equal(HeldFromLeases(database)["h1"], after.Allocated);
    }

    [Fact]
    public async Task Session_ThatFails_LeavesTheCacheAsCommitted()
    {
        using var database = await OpenWithHostsAsync(DatabasePath);
        var store = new LeaseStore(database);
        var hostStore = new HostStore(database);

        var versionBefore = hostStore.Find(HostId.Parse("h1"))!.DesiredVersion;
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync<int>(s =>
        {
            s.Insert(NewLease(1, LeaseState.Running, "h1"));
            s.BumpDesiredVersion(HostId.Parse("h1"));
            throw new InvalidOperationException("the work fails after its writes");
        }));

        var h1 = hostStore.Find(HostId.Parse("h1"))!;
        Assert.Equal(Resources.None, h1.Allocated);
        Assert.Equal(versionBefore, h1.DesiredVersion);
        Assert.Equal(Resources.None, HeldFromLeases(database)["h1"]);
    }

    [Fact]
    public async Task Heartbeat_InTheCache_EqualsTheRowAsStored()
    {
        using var database = await OpenWithHostsAsync(DatabasePath);
        var hostStore = new HostStore(database);
        var at = Created.AddSeconds(7).AddTicks(12_345); // below a millisecond: the store keeps milliseconds
        var load = new HostLoad(0.25, 3L << 30, 1.5, 2, new Resources(3, 1L << 30, 5L << 30));

        Assert.True(await hostStore.RecordHeartbeatAsync(new Heartbeat(HostId.Parse("h3"), new Resources(32, 128L << 30, 1L << 40), load, at, "disk nearly full")));
        Assert.False(await hostStore.RecordHeartbeatAsync(new Heartbeat(HostId.Parse("h9"), new Resources(1, 1, 1), load, at)));

        var stored = StoredHosts.Read(DatabasePath).Single(h => h.Id == HostId.Parse("h3"));
        var cached = hostStore.Find(HostId.Parse("h3"))!;
        Assert.Equal((stored.Load, stored.LastHeartbeatAt, stored.DegradedReason, stored.Registration.Capacity),
            (cached.Load, cached.LastHeartbeatAt, cached.DegradedReason, cached.Registration.Capacity));
        Assert.Equal(32, stored.Registration.Capacity.Vcpus);
        Assert.Null(hostStore.Find(HostId.Parse("h9")));
    }

    [Fact]
    public void SecondDatabaseOnTheSameFile_IsRefused_NamingTheLockAndPostgreSql()
    {
        using var first = new SqliteDatabase(DatabasePath);

        var refused = Assert.Throws<StoreException>(() => new SqliteDatabase(DatabasePath));

        Assert.Contains(DatabasePath + ".lock", refused.Message, StringComparison.Ordinal);
        Assert.Contains("PostgreSQL", refused.Message, StringComparison.Ordinal);
        first.Dispose();
        using var afterwards = new SqliteDatabase(DatabasePath);
    }

    [Fact]
    public async Task Open_WithTheEpochRowDeleted_IsRefused_SayingHowToRestoreIt()
    {
        new SqliteDatabase(DatabasePath).Dispose();
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            SqliteDatabase.Execute(connection, "DELETE FROM desired_version_epoch");
        }

        var refused = Assert.Throws<StoreException>(() => new SqliteDatabase(DatabasePath));

        Assert.Contains("desired_version_epoch has no row", refused.Message, StringComparison.Ordinal);
        Assert.Contains("INSERT INTO desired_version_epoch", refused.Message, StringComparison.Ordinal);

        // The refused opening let the file go: done as the message says, the database opens.
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            SqliteDatabase.Execute(connection, "INSERT INTO desired_version_epoch VALUES (1000000)");
        }

        using var reopened = new SqliteDatabase(DatabasePath);
        var hosts = new HostStore(reopened);
        await hosts.UpsertAsync(Host("h1"), Created);
        Assert.True(hosts.Find(HostId.Parse("h1"))!.DesiredVersion > 1_000_000L << 40, "versions come from the epoch after the one restored");
    }

    [Fact]
    public async Task Migration_FromStep16_CountsWhatExistingLeasesHold()
    {
        using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            connection.Open();
            Migrations.Apply(connection, 16);
            SqliteDatabase.Execute(connection, """
                INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                                   capacity_disk_bytes, labels, features, registered_at)
                VALUES ('h1', 'h1', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000),
                       ('h2', 'h2', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000);
                INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, data_disk_total_bytes, state, host_id, created_at, expires_at, updated_at)
                VALUES ('w-a', 'alice', 'i', 2, 100, 1000, 10, 'running', 'h1', 1, 2, 1),
                       ('w-b', 'alice', 'i', 3, 200, 2000, 0, 'stopping', 'h1', 1, 2, 1),
                       ('w-c', 'alice', 'i', 4, 400, 4000, 0, 'ended', 'h1', 1, 2, 1),
                       ('w-d', 'alice', 'i', 5, 500, 5000, 0, 'pending', 'h2', 1, 2, 1);
                """);
        }

        using var database = new SqliteDatabase(DatabasePath);
        var hosts = new HostStore(database);
        Assert.Equal(new Resources(5, 300, 3010), hosts.Find(HostId.Parse("h1"))!.Allocated);
        Assert.Equal(Resources.None, hosts.Find(HostId.Parse("h2"))!.Allocated);
        Assert.Equal((1, 0), (hosts.Find(HostId.Parse("h1"))!.StoppingLeases, hosts.Find(HostId.Parse("h2"))!.StoppingLeases));

        await new LeaseStore(database).WriteAsync(s =>
        {
            s.Update(s.FindLease(LeaseId.Parse("w-b"))! with { State = LeaseState.Ended });
            return 0;
        });
        Assert.Equal(new Resources(2, 100, 1010), hosts.Find(HostId.Parse("h1"))!.Allocated);
        Assert.Equal(0, hosts.Find(HostId.Parse("h1"))!.StoppingLeases);
    }
}
