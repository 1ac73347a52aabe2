using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Opens the scheduler's SQLite file and brings its schema to the newest version. Writes go through one
/// lock: SQLite has one writer at a time, and waiting here is cheaper than SQLITE_BUSY retries.
/// </summary>
public sealed class SqliteDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SqliteConnection _keepAlive;

    public SqliteDatabase(string path)
    {
        Path = path;
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new StoreException($"the database directory {directory} does not exist; create it or point --database elsewhere");
        }

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        try
        {
            // Held open for the database's lifetime: keeps the WAL and its index mapped between operations.
            _keepAlive = Open();
            Execute(_keepAlive, "PRAGMA journal_mode=WAL;");
            Migrations.Apply(_keepAlive);
        }
        catch (SqliteException e)
        {
            throw new StoreException($"cannot open the database {path}: {e.Message}; check the path, its permissions and free disk space", e);
        }
    }

    public string Path { get; }

    /// <summary>Opens a pooled connection for reading.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;");
        return connection;
    }

    /// <summary>Runs <paramref name="work"/> in a write transaction, one writer at a time.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction();
            var result = work(connection, transaction);
            transaction.Commit();
            return result;
        }
        catch (SqliteException e)
        {
            throw new StoreException($"writing to the database {Path} failed: {e.Message}; check free disk space and that no other process holds the file", e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public T Read<T>(Func<SqliteConnection, T> work)
    {
        try
        {
            using var connection = Open();
            return work(connection);
        }
        catch (SqliteException e)
        {
            throw new StoreException($"reading the database {Path} failed: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        _keepAlive.Dispose();
        _writeLock.Dispose();
    }

    /// <summary>A command in the transaction (or none) with its named parameters; a null value is SQL NULL.</summary>
    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    internal static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>The store failed; the message names the file and what to check.</summary>
public sealed class StoreException : Exception
{
    public StoreException(string message)
        : base(message)
    {
    }

    public StoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StoreException()
    {
    }
}
