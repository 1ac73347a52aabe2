using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// The database the stores run on: <see cref="SqliteDatabase"/> (one scheduler, one file) or
/// <see cref="Postgres.PostgresDatabase"/> (several replicas on one server). The stores write their SQL once, in the
/// part both engines speak (<c>@name</c> parameters, <c>ON CONFLICT</c>, <c>IS NOT DISTINCT FROM</c>, explicit casts
/// where PostgreSQL's types are stricter), and ask <see cref="Sql"/> for the rest.
/// </summary>
public interface IStoreDatabase
{
    /// <summary>Every host's row, in memory (<see cref="HostCache"/>).</summary>
    HostCache Hosts { get; }

    /// <summary>What differs between the engines: a few functions, and the locks that replicas need.</summary>
    SqlDialect Sql { get; }

    /// <summary>The quotas the writer read, kept between writes (<see cref="QuotaCache"/>); null where replicas write too.</summary>
    QuotaCache? Quotas { get; }

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and commits it; then <paramref name="applied"/> with its
    /// result, the place to update what is kept in memory. On PostgreSQL, work that lost a race with another writer
    /// (a deadlock, a serialization failure, a unique key taken meanwhile, a host that changed since it was chosen)
    /// is rolled back and run again, so it must not act outside the transaction.
    /// </summary>
    Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, Action<T> applied, CancellationToken cancellationToken = default);

    /// <summary>Runs <paramref name="work"/> on a connection outside any write.</summary>
    T Read<T>(Func<DbConnection, T> work);

    /// <summary>Told of every transaction of writes committed (null: nobody is).</summary>
    ICommitObserver? Commits { get; set; }
}

/// <summary>What is told of the store's commits, as they happen (the scheduler's metrics).</summary>
public interface ICommitObserver
{
    /// <summary>
    /// A transaction committed <paramref name="writes"/> writes (on SQLite, as many as group commit found queued; on
    /// PostgreSQL, one), <paramref name="took"/> after it began.
    /// </summary>
    void Committed(int writes, TimeSpan took);
}

public static class StoreDatabaseExtensions
{
    public static Task<T> WriteAsync<T>(this IStoreDatabase database, Func<DbConnection, DbTransaction, T> work, CancellationToken cancellationToken = default) =>
        database.WriteAsync(work, static _ => { }, cancellationToken);
}

/// <summary>Commands in either engine, with named parameters (<c>@name</c>); a null value is SQL NULL.</summary>
internal static class Sql
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        if (connection is SqliteConnection sqlite)
        {
            return SqliteDatabase.Command(sqlite, (SqliteTransaction?)transaction, sql, parameters);
        }

        var command = new NpgsqlCommand(sql, (NpgsqlConnection)connection, (NpgsqlTransaction?)transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, Postgres.PostgresValues.ToParameter(value)));
        }

        return command;
    }

    /// <summary>Runs a statement that changes rows; returns how many. On SQLite its parameters are bound by position (<see cref="DirectStatement"/>).</summary>
    public static int Execute(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        if (connection is SqliteConnection sqlite && DirectStatement.CanBind(parameters) && StatementCache.TakeDirect(sqlite, sql) is { } direct)
        {
            return direct.Execute(parameters);
        }

        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }
}
