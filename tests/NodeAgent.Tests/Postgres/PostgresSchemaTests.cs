using Npgsql;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// Applying the scheduler's PostgreSQL schema (<see cref="PostgresSchema"/>) on a real server: to an empty database,
/// again by a second replica, by two replicas at once, over an older schema and under a newer one.
/// </summary>
public sealed class PostgresSchemaTests : IDisposable
{
    private readonly PostgresTestDatabase _server = new();

    public void Dispose() => _server.Dispose();

    /// <summary>
    /// What the database is made of, one line per fact: every column, relation (with its oid and file, so a table made
    /// again differs), constraint, index, trigger, function body and recorded step.
    /// </summary>
    private List<string> Catalog()
    {
        using var connection = Connect();
        return PgSql.Rows(connection, """
            SELECT 'column ' || table_name || '.' || column_name || ' #' || ordinal_position || ' ' || data_type || ' ' || is_nullable
                   || ' ' || COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema()
            UNION ALL SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || c.oid || ' ' || c.relfilenode
                   FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
            UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                   FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
            UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
            UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL SELECT 'function ' || proname || ' ' || md5(prosrc) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
            UNION ALL SELECT 'step ' || version || ' at ' || applied_at FROM schema_migrations
            ORDER BY 1
            """);
    }

    private List<int> Steps()
    {
        using var connection = Connect();
        return PgSql.Rows(connection, "SELECT version FROM schema_migrations ORDER BY version").Select(int.Parse).ToList();
    }

    private NpgsqlConnection Connect()
    {
        var connection = new NpgsqlConnection(_server.ConnectionString);
        connection.Open();
        return connection;
    }

    [Fact]
    public void Apply_ToAnEmptyDatabase_RecordsEveryStep_AndASecondReplicaChangesNothing()
    {
        using (_server.Open())
        {
        }

        var first = Catalog();
        Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), Steps());
        Assert.Contains(first, fact => fact.StartsWith("trigger CREATE TRIGGER leases_hold_on_update AFTER UPDATE OF state, host_id", StringComparison.Ordinal));
        Assert.Contains(first, fact => fact.StartsWith("index CREATE UNIQUE INDEX leases_by_queue_seq", StringComparison.Ordinal));

        using (_server.Open())
        {
        }

        Assert.Equal(first, Catalog());
    }

    [Fact(Timeout = 60_000)]
    public async Task Apply_ByTwoReplicasStartingTogether_BothSucceed_AndEachStepIsAppliedOnce()
    {
        // A third session holds the schema lock, so both replicas are surely inside Apply, waiting, before either runs a step.
        await using var holder = Connect();
        await using (var lockIt = holder.BeginTransaction())
        {
            PgSql.Execute(holder, lockIt, "SELECT pg_advisory_xact_lock(@key)", ("key", PostgresSchema.AdvisoryLockKey));
            var replicas = new[] { Task.Run(_server.Open), Task.Run(_server.Open) };
            while (PgSql.Scalar<long>(holder, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") < 2)
            {
                if (replicas.FirstOrDefault(r => r.IsCompleted) is { } early)
                {
                    (await early).Dispose();
                    Assert.Fail("a replica got through Apply while the schema lock was held");
                }

                await Task.Delay(10);
            }

            await lockIt.CommitAsync();
            foreach (var database in await Task.WhenAll(replicas))
            {
                database.Dispose();
            }
        }

        Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), Steps());
        Assert.Contains(Catalog(), fact => fact.StartsWith("relation hosts r ", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_OverAnOlderSchema_AddsOnlyTheStepsItLacks()
    {
        using (var connection = Connect())
        {
            PostgresSchema.Apply(connection, 2);
        }

        var hostsBefore = Catalog().Single(fact => fact.StartsWith("relation hosts r ", StringComparison.Ordinal));
        Assert.Equal([1, 2], Steps());

        using (_server.Open())
        {
        }

        Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), Steps());
        Assert.Contains(hostsBefore, Catalog());
    }

    [Fact]
    public void Open_ADatabaseOfANewerScheduler_FailsAndSaysToRunANewerOne()
    {
        using (_server.Open())
        {
        }

        using (var connection = Connect())
        {
            PgSql.Execute(connection, "INSERT INTO schema_migrations (version, applied_at) VALUES (@v, 'later')", ("v", PostgresSchema.Latest + 1));
        }

        var e = Assert.Throws<StoreException>(() => _server.Open());
        Assert.Contains($"schema version {PostgresSchema.Latest + 1}, newer than this scheduler knows ({PostgresSchema.Latest}); run a newer scheduler", e.Message);
    }

    [Fact]
    public void SqliteStep_IsTheNewestSqliteStep()
    {
        Assert.True(
            PostgresSchema.SqliteStep == Migrations.Latest,
            $"SQLite's schema has {Migrations.Latest} steps but PostgresSchema follows it to step {PostgresSchema.SqliteStep}: " +
            "write each newer SQLite step as a new PostgresSchema step too, then set PostgresSchema.SqliteStep");
    }
}
