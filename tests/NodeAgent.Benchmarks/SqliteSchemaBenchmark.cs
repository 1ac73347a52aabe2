using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace NodeAgent.Benchmarks;

/// <summary>
/// What SQLite itself spends on writing a placed lease with the scheduler's schema, and which part of the schema
/// costs what. The schema is the real one: the scheduler program creates the database (every migration), then is
/// stopped. Each variant copies that database, changes the schema as it says, registers the hosts, and inserts
/// leases on random hosts through one prepared statement on one connection (the scheduler's pragmas), committing
/// every 64 as a group commit of 64 placements would. No gRPC, no placement logic, no .NET store code beyond
/// Microsoft.Data.Sqlite's: the figure is the floor under the scheduler's single writer.
/// </summary>
public static class SqliteSchemaBenchmark
{
    private const int Batch = 64;

    /// <summary>Each variant runs this many times; the median is reported.</summary>
    private const int Runs = 3;

    private static readonly (string Name, string Change, int PerSavepoint, bool RandomIds)[] Variants =
    [
        ("the scheduler's schema: insert the lease", "", 0, false),
        ("the scheduler's schema: a placement's writes (in its own savepoint, as group commit runs it: the insert; what the host holds is counted in memory)", "", 1, false),
        ("a group of 10 placements' writes in one savepoint (CreateLeases)", "", 10, false),
        ("a group of 10 in one savepoint, its sub-journal in a temporary file (temp_store=FILE, SQLite's default)", "PRAGMA temp_store=FILE;", 10, false),
        ("a placement's writes before schema step 25: the insert's trigger rewrote the host's row (what it holds, its desired version)", HostRowTrigger, 1, false),
        ("with a 64 MiB page cache (cache_size=-65536; 2 MiB by default)", "PRAGMA cache_size=-65536;", 0, false),
        ("with the file memory-mapped (mmap_size=1 GiB)", "PRAGMA mmap_size=1073741824;", 0, false),
        ("without index leases_by_host", "DROP INDEX leases_by_host;", 0, false),
        ("without indexes leases_by_expiry, leases_by_creation, leases_by_project",
            "DROP INDEX leases_by_expiry; DROP INDEX leases_by_creation; DROP INDEX leases_by_project;", 0, false),
        ("with random lease ids (the scheduler's until its ids began with their creation time)", "", 0, true),
        ("without the foreign key check", "PRAGMA foreign_keys=OFF;", 0, false),
        ("bare: primary key and UNIQUE (owner, request_id) only",
            "DROP INDEX leases_by_host; DROP INDEX leases_by_expiry; DROP INDEX leases_by_creation; DROP INDEX leases_by_project; PRAGMA foreign_keys=OFF;", 0, false),
    ];

    /// <summary>What schema steps 17 and 24 did on every placement, and step 25 took off the write: the host's row rewritten.</summary>
    private const string HostRowTrigger = """
        ALTER TABLE hosts ADD COLUMN held_vcpus INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN held_memory_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN held_disk_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN desired_version INTEGER NOT NULL DEFAULT 0;
        CREATE TRIGGER leases_hold_on_insert AFTER INSERT ON leases
        WHEN NEW.host_id IS NOT NULL AND NEW.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes, desired_version = desired_version + 1
            WHERE host_id = NEW.host_id;
        END;
        """;

    public static async Task<string> RunAsync(string program, int hosts, int leases)
    {
        if (!File.Exists(program))
        {
            throw new FileNotFoundException($"no scheduler program at {program}; run make publish first, or give --scheduler PROGRAM", program);
        }

        var work = Directory.CreateTempSubdirectory("nodeagent-bench-sqlite-").FullName;
        try
        {
            var schema = Path.Combine(work, "schema.db");
            await CreateSchemaAsync(program, work, schema);
            var rows = new List<string>();
            var copies = 0;
            double Run((string Name, string Change, int PerSavepoint, bool RandomIds) variant, int count)
            {
                var database = Path.Combine(work, $"copy-{copies++}.db");
                File.Copy(schema, database);
                var seconds = Measure(database, variant.Change, hosts, count, variant.PerSavepoint, variant.RandomIds);
                File.Delete(database);
                File.Delete(database + "-wal");
                File.Delete(database + "-shm");
                return seconds;
            }

            // Untimed: the library's code paths compiled and the file's pages read once before the first figure.
            Run(Variants[0], leases / 4);
            foreach (var variant in Variants)
            {
                var perInsert = Enumerable.Range(0, Runs).Select(_ => Run(variant, leases)).Order().ElementAt(Runs / 2);
                var row = string.Create(CultureInfo.InvariantCulture, $"| {variant.Name} | {perInsert * 1e6:0.0} µs | {1 / perInsert:N0} |");
                Console.WriteLine(row);
                rows.Add(row);
            }

            return $"""
                | schema | per lease | leases/s |
                |---|---:|---:|
                {string.Join("\n", rows)}

                {leases:N0} leases of 1 vCPU on {hosts:N0} hosts chosen at random, with ids in creation order as the scheduler makes them
                (unless the row says otherwise), one INSERT (the scheduler's 43 columns and parameters) each, committed {Batch} at a time (groups: 6 groups of 10 at a time), on one connection, SQLite {SqliteVersion()} as the scheduler
                bundles it, with the scheduler's pragmas (WAL, synchronous=NORMAL, foreign_keys=ON, temp_store=MEMORY). The database was made by
                the scheduler program (`{Path.GetFileName(program)}`) at start, so it has every migration. Each row starts
                from a copy of that database; the median of {Runs} runs. This is the part of a placement the single writer cannot share with another core.
                """;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task CreateSchemaAsync(string program, string work, string database)
    {
        var info = new ProcessStartInfo(program, ["--listen", "http://127.0.0.1:0", "--auth", "none", "--database", database, "--image-listen", "none",
            "--image-repository", Path.Combine(work, "images"), "--config", "none"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var scheduler = new LeaseBenchmark.Child(Process.Start(info)!);
        await LeaseBenchmark.WaitForAsync(scheduler, "listening on");
        scheduler.Kill(entireProcessTree: true);
        // The WAL the scheduler left is read by the next open: checkpoint it into the file that is copied.
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
    }

    /// <returns>Seconds per lease.</returns>
    private static double Measure(string database, string change, int hosts, int leases, int perSavepoint, bool randomIds)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY;");
        if (change.Length > 0)
        {
            Execute(connection, change);
        }

        using (var transaction = connection.BeginTransaction())
        {
            using var host = Command(connection, transaction,
                "INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes, capacity_disk_bytes, " +
                "labels, features, registered_at, last_heartbeat_at) VALUES (@id, @id, 'bench', 'x86_64', 'kvm', 64, 274877906944, 10995116277760, '{}', '[]', 0, 0)", "@id");
            for (var i = 0; i < hosts; i++)
            {
                host.Parameters[0].Value = HostId(i);
                host.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        var random = new Random(1);
        var work = Enumerable.Range(0, leases).Select(i => (Id: randomIds ? RandomId(random) : $"w-{i:D10}", Host: HostId(random.Next(hosts)))).ToArray();
        var clock = Stopwatch.StartNew();
        var batch = connection.BeginTransaction();
        using var insert = Command(connection, batch, InsertSql, [.. Parameters]);
        using var savepoint = Command(connection, batch, "SAVEPOINT write");
        using var release = Command(connection, batch, "RELEASE write");

        // A commit ends on a savepoint's end: 64 single placements, or 6 groups of 10.
        var perCommit = perSavepoint > 1 ? Batch / perSavepoint * perSavepoint : Batch;
        for (var i = 0; i < work.Length; i++)
        {
            insert.Transaction = savepoint.Transaction = release.Transaction = batch;
            var placement = perSavepoint > 0;
            if (placement && i % perSavepoint == 0)
            {
                savepoint.ExecuteNonQuery();
            }

            Bind(insert, work[i].Id, work[i].Host, 1_800_000_000_000 + i);
            insert.ExecuteNonQuery();
            if (placement)
            {
                if (i % perSavepoint == perSavepoint - 1 || i == work.Length - 1)
                {
                    release.ExecuteNonQuery();
                }
            }

            if (i % perCommit == perCommit - 1 || i == work.Length - 1)
            {
                batch.Commit();
                batch.Dispose();
                batch = connection.BeginTransaction();
            }
        }

        batch.Dispose();
        return clock.Elapsed.TotalSeconds / leases;
    }

    private static string HostId(int i) => $"bench-{i:D5}";

    private static string RandomId(Random random)
    {
        const string alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
        return "w-" + string.Create(10, random, (chars, r) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[r.Next(alphabet.Length)];
            }
        });
    }

    private static readonly string[] Parameters =
    [
        "@id", "@owner", "@image", "@vcpus", "@memory", "@disk", "@state", "@reason", "@host", "@created", "@expires", "@updated", "@rid",
        "@power", "@reboots_requested", "@reboots_done", "@ssh_keys", "@image_version", "@image_ref", "@data_disks", "@data_disk_total", "@iops", "@bps",
        "@disk_allocated", "@disk_used", "@save_generation", "@save_image", "@save_state", "@save_reason", "@save_version", "@save_requested",
        "@save_description", "@limits", "@placement", "@anti_affinity_group", "@spread_group", "@kind", "@start_at", "@queued_at", "@run_ms",
        "@wanted_network", "@refused_by", "@project",
    ];

    // The columns of the scheduler's LeaseStore insert, in its order.
    private static readonly string InsertSql =
        "INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at, request_id, " +
        "power, reboots_requested, reboots_done, ssh_keys, image_version, image_ref, data_disk_bytes, data_disk_total_bytes, disk_total_iops, " +
        "disk_total_bytes_per_second, disk_allocated_bytes, disk_used_bytes, save_generation, save_image_name, save_state, save_reason, save_image_version, " +
        "save_requested_at, save_description, limits, placement, anti_affinity_group, spread_group, kind, start_at, queued_at, run_ms, wanted_network, " +
        $"refused_by, project) VALUES ({string.Join(", ", Parameters)})";

    private static void Bind(SqliteCommand insert, string id, string host, long now)
    {
        object?[] values =
        [
            id, "bench", "bench", 1, 512L << 20, 0L, "starting", "placed on " + host, host, now, now + 28_800_000, now, null,
            "running", 0L, 0L, "[]", 0, null, "[]", 0L, 0L, 0L, 0L, 0L, 0L, "", "", "", 0, 0L, "", null, null, "", "", "immediate", null, null, 28_800_000L,
            "", "[]", "bench",
        ];
        for (var i = 0; i < values.Length; i++)
        {
            insert.Parameters[i].Value = values[i] ?? DBNull.Value;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
        }

        command.Prepare();
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sqlite_version()";
        return (string)command.ExecuteScalar()!;
    }
}
