using System.Data.Common;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// The SQL that differs between SQLite and PostgreSQL, and the locks that only replicas need. On SQLite one writer
/// runs at a time, so a write sees everything before it and locks nothing. On PostgreSQL writes of several replicas run
/// at once: a write that reads something to decide on it (a lease to change, a host to claim, the addresses of a
/// network, a project's use against its quota, the leases of a group) locks it first, so the writer after it waits and
/// then reads what this one committed.
/// </summary>
public sealed class SqlDialect
{
    public static readonly SqlDialect Sqlite = new(replicated: false);

    public static readonly SqlDialect Postgres = new(replicated: true);

    private SqlDialect(bool replicated) => Replicated = replicated;

    /// <summary>Whether other writers may run at the same time (PostgreSQL), so that writes must lock what they decide on.</summary>
    public bool Replicated { get; }

    /// <summary>The smaller of two values (SQLite's two-argument MIN, PostgreSQL's LEAST).</summary>
    public string Least(string a, string b) => Replicated ? $"LEAST({a}, {b})" : $"MIN({a}, {b})";

    /// <summary>The larger of two values (SQLite's two-argument MAX, PostgreSQL's GREATEST).</summary>
    public string Greatest(string a, string b) => Replicated ? $"GREATEST({a}, {b})" : $"MAX({a}, {b})";

    /// <summary>A table of the strings of the JSON array in <paramref name="parameter"/>, in a column named <c>value</c>.</summary>
    public string JsonStrings(string parameter) =>
        Replicated ? $"json_array_elements_text(CAST({parameter} AS json))" : $"json_each({parameter})";

    /// <summary>What ends a SELECT that a write reads to change: on PostgreSQL the rows it returns stay locked until the write commits.</summary>
    public string LockRows(DbTransaction? transaction) => Replicated && transaction is not null ? " FOR NO KEY UPDATE" : string.Empty;

    /// <summary>
    /// Makes writes that decide on the same <paramref name="key"/> (a network's addresses, a project's quota, a group's
    /// leases) wait for one another until they commit: an advisory lock on PostgreSQL, nothing on SQLite's one writer.
    /// </summary>
    /// <param name="shared">Whether writes that take it shared may run together (and wait only for those that take it whole).</param>
    public void Serialize(DbConnection connection, DbTransaction? transaction, string key, bool shared = false)
    {
        if (Replicated && transaction is not null)
        {
            Store.Sql.Execute(connection, transaction,
                shared ? "SELECT pg_advisory_xact_lock_shared(hashtext(@key))" : "SELECT pg_advisory_xact_lock(hashtext(@key))", ("@key", key));
        }
    }
}
