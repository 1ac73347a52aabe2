using System.Data;
using Npgsql;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// The scheduler's PostgreSQL database: one pooled data source for a connection string, with the schema brought to
/// the newest version when it opens (<see cref="PostgresSchema"/>). Several scheduler replicas may open the same
/// database. Each write is its own READ COMMITTED transaction, whatever the server's default: a placement's
/// <see cref="HostClaims.TryClaim"/> relies on it re-checking a host row that another replica changed meanwhile.
/// Every <see cref="NpgsqlException"/> leaves as a <see cref="StoreException"/> that names the server (never the password).
/// </summary>
/// <remarks>
/// The data source is Npgsql's slim one: it knows the types the schema uses (text, integer, bigint, double precision,
/// bytea, boolean) and adds about 5.6 MB to a native-AOT binary where the full one adds about 12.7 MB, with no trim or
/// AOT warning either way. It reads each type only as itself: an <c>integer</c> column with GetInt32, a
/// <c>bigint</c> one (and COUNT(*)) with GetInt64; SUM of a <c>bigint</c> column is <c>numeric</c> and needs a cast.
/// </remarks>
public sealed class PostgresDatabase : IDisposable, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    /// <summary>Opens the database and applies the schema; throws <see cref="StoreException"/> when either fails.</summary>
    public PostgresDatabase(string connectionString)
    {
        NpgsqlConnectionStringBuilder settings;
        try
        {
            settings = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            // Npgsql's message names the keyword at fault, never a value.
            throw new StoreException(
                $"the PostgreSQL connection string is not valid: {e.Message}; write it as Host=HOST;Port=5432;Database=NAME;Username=USER;Password=PASSWORD " +
                "(a value that holds ';' goes in double quotes)", e);
        }

        // pg_stat_activity then tells an operator which sessions are the scheduler's.
        settings.ApplicationName ??= "nodeagent-scheduler";
        Server = PostgresErrors.Describe(settings);
        _source = new NpgsqlSlimDataSourceBuilder(settings.ConnectionString).Build();
        try
        {
            using var connection = OpenConnection();
            Run("applying the scheduler's schema to", () =>
            {
                PostgresSchema.Apply(connection);
                return 0;
            });
        }
        catch
        {
            _source.Dispose();
            throw;
        }
    }

    /// <summary>Where the database is, for messages: host:port/database and the user (no password).</summary>
    public string Server { get; }

    /// <summary>An open connection from the pool; the caller disposes it, which returns it to the pool.</summary>
    public NpgsqlConnection OpenConnection() => Run("connecting to", _source.OpenConnection);

    /// <summary>Runs <paramref name="work"/> on a pooled connection, outside any transaction (each statement sees what is committed when it starts).</summary>
    public T Read<T>(Func<NpgsqlConnection, T> work) => Run("reading", () =>
    {
        using var connection = _source.OpenConnection();
        return work(connection);
    });

    /// <summary>
    /// Runs <paramref name="work"/> in a READ COMMITTED transaction on a pooled connection and commits it; when the work
    /// throws, nothing of it is kept. Writes of several callers (and replicas) run at once: what must not interleave
    /// takes row locks (<see cref="HostClaims"/>) or relies on a UNIQUE constraint.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, T> work, CancellationToken cancellationToken = default) =>
        RunAsync("writing to", async () =>
        {
            await using var connection = await _source.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            var result = work(connection, transaction);
            await transaction.CommitAsync(cancellationToken);
            return result;
        });

    public void Dispose() => _source.Dispose();

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    private T Run<T>(string action, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (NpgsqlException e)
        {
            throw PostgresErrors.Failure(action, Server, e);
        }
    }

    private async Task<T> RunAsync<T>(string action, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (NpgsqlException e)
        {
            throw PostgresErrors.Failure(action, Server, e);
        }
    }
}
