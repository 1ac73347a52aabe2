using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// The PostgreSQL schema against the SQLite one after <see cref="Migrations.Apply(SqliteConnection)"/>, read from
/// both catalogs and written as the same lines, so the two cannot drift apart unseen: every table's columns (order,
/// type family, NULL or not, default), primary keys, UNIQUE constraints, named indexes (unique, partial and their
/// predicate), foreign keys (and which are checked at commit), how many CHECK constraints, and the triggers' events.
/// </summary>
public sealed partial class PostgresSchemaParityTests : IDisposable
{
    private readonly PostgresTestDatabase _server = new();
    private readonly SqliteConnection _sqlite = new("Data Source=:memory:");

    public PostgresSchemaParityTests()
    {
        _sqlite.Open();
        Migrations.Apply(_sqlite);
        using (_server.Open())
        {
        }
    }

    public void Dispose()
    {
        _sqlite.Dispose();
        _server.Dispose();
    }

    /// <summary>
    /// Where the schemas differ by design (SQLite's step 25): alone on its SQLite file the scheduler keeps what leases
    /// hold on a host, how many stop and the desired version in memory, so SQLite's hosts have no such columns or
    /// triggers and it has an epoch for its versions; replicas keep them on PostgreSQL's rows, where their writes meet.
    /// </summary>
    private static readonly string[] OnlyPostgres =
    [
        "hosts.desired_version", "hosts.held_vcpus", "hosts.held_memory_bytes", "hosts.held_disk_bytes", "hosts.stopping_leases",
        "trigger leases_hold_on_insert", "trigger leases_hold_on_update", "trigger leases_hold_on_delete",
        "trigger leases_stopping_on_insert", "trigger leases_stopping_on_update", "trigger leases_stopping_on_delete",
    ];

    private static readonly string[] OnlySqlite = ["desired_version_epoch.epoch", "checks desired_version_epoch"];

    [Fact]
    public void Columns_OfEveryTable_AreTheSqliteSchemas()
    {
        var sqlite = Numbered(SqliteRows("""
            SELECT m.name, p.cid + 1, p.name, p.type, p."notnull" OR p.pk > 0, COALESCE(p.dflt_value, '')
            FROM sqlite_schema m JOIN pragma_table_info(m.name) p
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
            """).Where(c => !OnlySqlite.Contains($"{c[0]}.{c[2]}")), notNull: "1");
        var postgres = Numbered(PostgresRows("""
            SELECT table_name, ordinal_position, column_name, data_type, is_nullable = 'NO', COALESCE(column_default, '')
            FROM information_schema.columns WHERE table_schema = current_schema()
            """).Where(c => !OnlyPostgres.Contains($"{c[0]}.{c[2]}")), notNull: "True");

        AssertSame(sqlite, postgres);
        Assert.Contains("hosts.degraded_reason #19 text NOT NULL default ''", postgres);
        Assert.Contains("leases.refused_by #43 text NOT NULL default '[]'", postgres);
    }

    /// <summary>Each column as a line, numbered by its place among its table's columns that both schemas have.</summary>
    private static IEnumerable<string> Numbered(IEnumerable<string[]> columns, string notNull) =>
        columns.GroupBy(c => c[0]).SelectMany(table => table.OrderBy(c => int.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture)).Select((c, i) =>
            $"{c[0]}.{c[2]} #{i + 1} {Family(c[3])} {(c[4] == notNull ? "NOT NULL" : "NULL")} default {Default(c[5])}"));

    [Fact]
    public void KeysAndIndexes_AreTheSqliteSchemas()
    {
        var sqliteKeys = SqliteRows("""
            SELECT m.name, (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(m.name) WHERE pk > 0 ORDER BY pk))
            FROM sqlite_schema m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
            """).Where(k => k[1].Length > 0).Select(k => $"primary key {k[0]} ({k[1]})");
        var sqliteIndexes = SqliteRows("""
            SELECT m.name, l.name, l."unique", l.origin,
                   (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)),
                   COALESCE((SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = l.name), '')
            FROM sqlite_schema m JOIN pragma_index_list(m.name) l
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND l.origin != 'pk'
            """).Select(i => i[3] == "u"
            ? $"unique {i[0]} ({i[4]})"
            : Index(i[1], i[0], i[4], i[2] == "1", WhereClause().Match(i[5]).Groups[1].Value));
        var postgres = PostgresRows("""
            SELECT t.relname, i.relname, ix.indisunique, COALESCE(c.contype::text, ''),
                   (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
                   COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '')
            FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
            LEFT JOIN pg_constraint c ON c.conindid = ix.indexrelid AND c.contype IN ('p', 'u')
            WHERE t.relnamespace = current_schema()::regnamespace
            """).Select(i => i[3] switch
            {
                "p" => $"primary key {i[0]} ({i[4]})",
                "u" => $"unique {i[0]} ({i[4]})",
                _ => Index(i[1], i[0], i[4], i[2] == "True", i[5]),
            });

        AssertSame(sqliteKeys.Concat(sqliteIndexes), postgres);
        Assert.Contains("index leases_waiting on leases (kind,start_at,queue_seq) unique=False where state = 'pending'", postgres);
        Assert.Contains("unique addresses (network,address)", postgres);
    }

    [Fact]
    public void ForeignKeysChecksAndTriggers_AreTheSqliteSchemas()
    {
        var tables = SqliteRows("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").ToDictionary(t => t[0], t => t[1]);
        var sqlite = SqliteRows("""
                SELECT m.name, f."from", f."table", f."to" FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f
                WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                """)
            .Select(f => $"foreign key {f[0]}.{f[1]} -> {f[2]}.{f[3]} at commit={Regex.IsMatch(tables[f[0]], $@"\n\s*{f[1]} [^\n]*DEFERRABLE INITIALLY DEFERRED")}")
            .Concat(tables.Where(t => !OnlySqlite.Contains("checks " + t.Key)).Select(t => $"checks {t.Key}: {CheckClause().Count(t.Value)}"))
            .Concat(SqliteRows("SELECT tbl_name, name, sql FROM sqlite_schema WHERE type = 'trigger'").Select(t => $"trigger {t[1]} on {t[0]} after {Event(t[2])}"));
        var postgres = PostgresRows("""
                SELECT t.relname, a.attname, r.relname, ra.attname, c.condeferred FROM pg_constraint c
                JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
                WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
                """)
            .Select(f => $"foreign key {f[0]}.{f[1]} -> {f[2]}.{f[3]} at commit={f[4]}")
            .Concat(PostgresRows("""
                SELECT t.relname, count(c.oid) FROM pg_class t LEFT JOIN pg_constraint c ON c.conrelid = t.oid AND c.contype = 'c'
                WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind = 'r' GROUP BY t.relname
                """).Select(t => $"checks {t[0]}: {t[1]}"))
            .Concat(PostgresRows("""
                SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
                """).Where(t => !OnlyPostgres.Contains("trigger " + t[1])).Select(t => $"trigger {t[1]} on {t[0]} after {Event(t[2])}"));

        AssertSame(sqlite, postgres);
        Assert.Contains("foreign key addresses.lease_id -> leases.lease_id at commit=True", postgres);
        Assert.Contains("checks usage: 15", postgres);
    }

    /// <summary>The same lines on both sides; a failure lists every line that only one side has.</summary>
    private static void AssertSame(IEnumerable<string> sqlite, IEnumerable<string> postgres)
    {
        var (s, p) = (sqlite.ToList(), postgres.ToList());
        var onlySqlite = s.Except(p).Order(StringComparer.Ordinal).ToList();
        var onlyPostgres = p.Except(s).Order(StringComparer.Ordinal).ToList();
        Assert.True(
            onlySqlite.Count == 0 && onlyPostgres.Count == 0 && s.Count == p.Count,
            "the PostgreSQL schema (PostgresSchema) differs from SQLite's (Migrations):\n  only in SQLite:\n    " + string.Join("\n    ", onlySqlite) +
            "\n  only in PostgreSQL:\n    " + string.Join("\n    ", onlyPostgres));
    }

    /// <summary>SQLite's INTEGER is 64-bit; PostgreSQL has integer and bigint for it (PostgresSchema says which is where).</summary>
    private static string Family(string type) => type.ToLowerInvariant() switch
    {
        "integer" or "bigint" => "integer",
        "real" or "double precision" => "real",
        "text" => "text",
        "blob" or "bytea" => "blob",
        var other => "unexpected type " + other,
    };

    /// <summary>A default as written, without PostgreSQL's casts ('[]'::text is '[]').</summary>
    private static string Default(string text) => CastSuffix().Replace(text, string.Empty);

    private static string Index(string name, string table, string columns, bool unique, string predicate) =>
        $"index {name} on {table} ({columns}) unique={unique}" + (predicate.Length == 0 ? string.Empty : " where " + Predicate(predicate));

    /// <summary>An index predicate in one spelling: no casts or parentheses, <c>&lt;&gt;</c> for <c>!=</c>, single spaces.</summary>
    private static string Predicate(string text) =>
        Spaces().Replace(CastSuffix().Replace(text, string.Empty).Replace("(", string.Empty, StringComparison.Ordinal)
            .Replace(")", string.Empty, StringComparison.Ordinal).Replace("!=", "<>", StringComparison.Ordinal), " ").Trim();

    /// <summary>What fires a trigger: INSERT, DELETE, or UPDATE OF its columns.</summary>
    private static string Event(string sql) => Spaces().Replace(TriggerEvent().Match(sql).Groups[1].Value, " ");

    private List<string[]> SqliteRows(string sql)
    {
        using var command = _sqlite.CreateCommand();
        command.CommandText = sql;
        using var r = command.ExecuteReader();
        var rows = new List<string[]>();
        while (r.Read())
        {
            rows.Add(Enumerable.Range(0, r.FieldCount).Select(i => Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!).ToArray());
        }

        return rows;
    }

    private List<string[]> PostgresRows(string sql)
    {
        using var connection = new NpgsqlConnection(_server.ConnectionString);
        connection.Open();
        return PgSql.Rows(connection, sql).Select(row => row.Split(" | ")).ToList();
    }

    [GeneratedRegex(@"::[a-z]+( [a-z]+)?")]
    private static partial Regex CastSuffix();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"\bWHERE\s+(.+)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex WhereClause();

    [GeneratedRegex(@"\bCHECK\s*\(", RegexOptions.IgnoreCase)]
    private static partial Regex CheckClause();

    [GeneratedRegex(@"\bAFTER\s+(.+?)\s+ON\s", RegexOptions.Singleline)]
    private static partial Regex TriggerEvent();
}
