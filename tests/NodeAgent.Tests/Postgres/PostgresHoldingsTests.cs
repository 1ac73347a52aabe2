using Microsoft.Data.Sqlite;
using Npgsql;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// The held_* triggers of <see cref="PostgresSchema"/> against those SQLite had from its step 17 to 24 (step 25 keeps
/// holdings in memory instead): the same random changes to leases, run on both, leave every host holding the sum over
/// its leases in holding states, and the same on both (the property <c>HostHoldingsTests</c> checks for the SQLite
/// store's cache).
/// </summary>
public sealed class PostgresHoldingsTests : IDisposable
{
    private static readonly string[] HostIds = ["h1", "h2", "h3"];
    private static readonly string[] States = Enum.GetValues<LeaseState>().Select(s => s.ToString().ToLowerInvariant()).ToArray();
    private static readonly Resources Capacity = new(64, 256L << 30, 1L << 40);
    private readonly PostgresTestDatabase _server = new();
    private readonly SqliteConnection _sqlite = new("Data Source=:memory:");

    public PostgresHoldingsTests() => _sqlite.Open();

    public void Dispose()
    {
        _sqlite.Dispose();
        _server.Dispose();
    }

    [Fact]
    public void RandomLeaseChanges_HeldOnEveryHost_EqualsTheSumOverItsLeases_AndWhatSqliteHolds()
    {
        using var database = _server.Open();
        using var postgres = database.OpenConnection();
        Migrations.Apply(_sqlite, 24);
        SqliteDatabase.Execute(_sqlite, "PRAGMA foreign_keys=ON;");
        foreach (var id in HostIds)
        {
            Both(postgres, LeaseRows.InsertHost, ("id", id), ("vcpus", Capacity.Vcpus), ("memory", Capacity.MemoryBytes), ("disk", Capacity.DiskBytes),
                ("foreign_vcpus", 0), ("foreign_memory", 0L));
        }

        var random = new Random(17);
        var leases = new List<string>();
        var holding = 0;
        var stoppingSeen = 0L;
        for (var step = 0; step < 500; step++)
        {
            var change = Change(random, leases, step);
            Both(postgres, change.Sql, change.Parameters);

            var rows = LeaseRows.Held(postgres);
            var inSqlite = HeldInSqlite();
            foreach (var id in HostIds)
            {
                var (held, sum) = rows[id];
                Assert.True(held == sum && held == inSqlite[id],
                    $"after step {step} ({change.Sql.Split('\n')[0]}): {id} holds {held} in PostgreSQL, {inSqlite[id]} in SQLite; its leases sum to {sum}");
                holding += held.Vcpus > 0 ? 1 : 0;
            }

            var stopping = StoppingCounts(postgres);
            Assert.True(stopping.All(h => h.Value.Counted == h.Value.Leases) && stopping.SequenceEqual(StoppingCounts(_sqlite)),
                $"after step {step}: stopping leases counted on the hosts (counted/leases) are " +
                string.Join(", ", stopping.Select(h => $"{h.Key} {h.Value.Counted}/{h.Value.Leases}")) + " in PostgreSQL and " +
                string.Join(", ", StoppingCounts(_sqlite).Select(h => $"{h.Key} {h.Value.Counted}/{h.Value.Leases}")) + " in SQLite");
            stoppingSeen += stopping.Sum(h => h.Value.Leases);
        }

        Assert.True(stoppingSeen > 100, "the random changes should leave leases stopping now and then");

        Assert.True(holding > 500, "the random changes should leave hosts holding something most of the time");
    }

    [Fact]
    public void Apply_OverLeasesWrittenBeforeTheTriggersStep_CountsWhatTheyHold()
    {
        using (var connection = new NpgsqlConnection(_server.ConnectionString))
        {
            connection.Open();
            PostgresSchema.Apply(connection, PostgresSchema.Latest - 1);
            LeaseRows.Host(connection, "h1", new Resources(8, 8L << 30, 100L << 30), Resources.None);
            LeaseRows.Lease(connection, null, "w-a", "h1", new Resources(2, 100, 1000), "running");
            LeaseRows.Lease(connection, null, "w-b", "h1", new Resources(3, 200, 2000), "stopping");
            LeaseRows.Lease(connection, null, "w-c", "h1", new Resources(4, 400, 4000), "ended");
        }

        using var database = _server.Open();
        using var postgres = database.OpenConnection();
        Assert.Equal((new Resources(5, 300, 3000), new Resources(5, 300, 3000)), LeaseRows.Held(postgres)["h1"]);

        PgSql.Execute(postgres, "UPDATE leases SET state = 'ended' WHERE lease_id = 'w-b'");
        Assert.Equal(new Resources(2, 100, 1000), LeaseRows.Held(postgres)["h1"].Held);
    }

    private sealed record Step(string Sql, (string Name, object Value)[] Parameters);

    /// <summary>
    /// One random change: a new lease (in any state, on a host or none), or to an existing one its state and host, its
    /// resources, a column the triggers ignore, its removal; or a change to every lease of a host at once.
    /// </summary>
    private static Step Change(Random random, List<string> leases, int step)
    {
        string Host() => HostIds[random.Next(HostIds.Length)];
        object MaybeHost() => random.Next(4) == 0 ? DBNull.Value : Host();
        string State() => States[random.Next(States.Length)];
        string Lease() => leases[random.Next(leases.Count)];
        (string, object)[] Resources() =>
            [("vcpus", 1 + random.Next(4)), ("memory", (512L << 20) * (1 + random.Next(3))), ("disk", (1L << 30) * (1 + random.Next(8))),
             ("data_disks", random.Next(3) == 0 ? (1L << 30) * (1 + random.Next(4)) : 0L)];

        switch (leases.Count == 0 ? 0 : random.Next(10))
        {
            case 0 or 1 or 2:
                leases.Add($"w-{step:D4}");
                return new Step(LeaseRows.InsertLease, [("id", leases[^1]), ("state", State()), ("host", MaybeHost()), .. Resources()]);
            case 3 or 4:
                return new Step("UPDATE leases SET state = @state, host_id = @host, updated_at = updated_at + 1 WHERE lease_id = @id",
                    [("id", Lease()), ("state", State()), ("host", MaybeHost())]);
            case 5:
                return new Step(
                    "UPDATE leases SET vcpus = @vcpus, memory_bytes = @memory, disk_bytes = @disk, data_disk_total_bytes = @data_disks WHERE lease_id = @id",
                    [("id", Lease()), .. Resources()]);
            case 6:
                return new Step("UPDATE leases SET reason = 'only a reason' WHERE lease_id = @id", [("id", Lease())]);
            case 7:
                var gone = Lease();
                leases.Remove(gone);
                return new Step("DELETE FROM leases WHERE lease_id = @id", [("id", gone)]);
            case 8:
                return new Step("UPDATE leases SET state = @state WHERE host_id = @host", [("state", State()), ("host", Host())]);
            default:
                return new Step("UPDATE leases SET host_id = @to WHERE host_id = @from", [("from", Host()), ("to", Host())]);
        }
    }

    /// <summary>Runs one statement on PostgreSQL and on SQLite.</summary>
    private void Both(NpgsqlConnection postgres, string sql, params (string Name, object Value)[] parameters)
    {
        PgSql.Execute(postgres, sql, parameters);
        using var command = _sqlite.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue("@" + name, value);
        }

        command.ExecuteNonQuery();
    }

    /// <summary>Per host, the stopping leases its row counts (schema step 20 / 9) and those its leases say.</summary>
    private static SortedDictionary<string, (long Counted, long Leases)> StoppingCounts(System.Data.Common.DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT h.host_id, h.stopping_leases, (SELECT COUNT(*) FROM leases l WHERE l.host_id = h.host_id AND l.state = 'stopping') FROM hosts h";
        using var r = command.ExecuteReader();
        var counts = new SortedDictionary<string, (long, long)>(StringComparer.Ordinal);
        while (r.Read())
        {
            counts[r.GetString(0)] = (Convert.ToInt64(r.GetValue(1), System.Globalization.CultureInfo.InvariantCulture),
                Convert.ToInt64(r.GetValue(2), System.Globalization.CultureInfo.InvariantCulture));
        }

        return counts;
    }

    private Dictionary<string, Resources> HeldInSqlite()
    {
        using var command = _sqlite.CreateCommand();
        command.CommandText = LeaseRows.HeldAndSums;
        using var r = command.ExecuteReader();
        var held = new Dictionary<string, Resources>();
        while (r.Read())
        {
            held[r.GetString(0)] = new Resources(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3));
        }

        return held;
    }
}
