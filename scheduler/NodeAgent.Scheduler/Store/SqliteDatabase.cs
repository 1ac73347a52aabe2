using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Opens the scheduler's SQLite file and brings its schema to the newest version. Writes go through one
/// lock and one connection: SQLite has one writer at a time, and waiting here is cheaper than SQLITE_BUSY retries.
/// Reads use a small pool of open connections. Every connection this class opens keeps its statements prepared
/// (<see cref="StatementCache"/>): a placement runs a dozen statements, and parsing them anew each time cost
/// more than running them.
/// </summary>
public sealed class SqliteDatabase : IStoreDatabase, IDisposable
{
    private const int IdleReaders = 16;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly GroupCommit _writes;
    private readonly FileStream _lock;
    private readonly SqliteConnection _checkpointer;
    private readonly Timer _checkpoints;
    private readonly Lock _checkpointGate = new();
    private long _checkpointedCommits = -1; // the first pass runs: opening wrote too (migrations, the epoch)

    /// <summary>How often the checkpointer copies the WAL back while writes come (see the constructor).</summary>
    internal static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrentBag<SqliteConnection> _readers = [];

    public SqliteDatabase(string path)
    {
        Path = path;
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new StoreException($"the database directory {directory} does not exist; create it or point --database elsewhere");
        }

        _lock = TakeLock(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();

        try
        {
            // Open for the database's lifetime: the one writer, which also keeps the WAL and its index mapped.
            _writer = Open();
            Execute(_writer, "PRAGMA journal_mode=WAL;");

            // The WAL is copied back into the database by a checkpointer of its own, every 100 ms while writes come,
            // without waiting for readers (PASSIVE). The writer still checkpoints when the WAL reaches 10,000 frames:
            // only a checkpoint that copied every frame lets the next write start the WAL over, and under a steady
            // stream of writes only the writer, between two of its own transactions, finds no newer frame. That
            // checkpoint syncs the WAL and the database file, and every write waits for it; the checkpointer keeps
            // what it has left to sync to the last 100 ms of writes. Once a second, it left up to a second's: at
            // 10,000 placements/s the writer then stopped for 30-50 ms about twice a second (docs/scale.md).
            Execute(_writer, "PRAGMA wal_autocheckpoint=10000;");
            _checkpointer = Open();
            Migrations.Apply(_writer);

            // Alone on its file, the scheduler keeps what leases hold on each host and the desired versions in memory
            // (schema step 25), with versions of an epoch this opening takes.
            var versions = DesiredVersions.Open(_writer);
            Hosts = new HostCache(() => Read(connection => HostRows.ReadWithHoldings(connection, versions)), versions);
            _writes = new GroupCommit(_writer, WriteFailure, () =>
            {
                Quotas.Clear();
                Hosts.Reload();
            }, () => Commits);
            Hosts.Reload();
            _checkpoints = new Timer(_ => Checkpoint(), null, CheckpointInterval, CheckpointInterval);
        }
        catch (Exception e)
        {
            // Nothing opened so far outlives the failure: the file's lock is let go, so a fixed database can be opened again.
            Abandon();
            if (e is SqliteException sqlite)
            {
                throw new StoreException($"cannot open the database {path}: {sqlite.Message}; check the path, its permissions and free disk space", sqlite);
            }

            throw;
        }
    }

    /// <summary>Closes what a constructor that failed had opened.</summary>
    private void Abandon()
    {
        _checkpoints?.Dispose();
        if (_checkpointer is not null)
        {
            Close(_checkpointer);
        }

        if (_writer is not null)
        {
            Close(_writer);
        }

        _lock.Dispose();
    }

    public string Path { get; }

    public SqlDialect Sql => SqlDialect.Sqlite;

    public QuotaCache Quotas { get; } = new();

    QuotaCache? IStoreDatabase.Quotas => Quotas;

    public ICommitObserver? Commits { get; set; }

    /// <summary>
    /// Every host's committed row, in memory (<see cref="HostCache"/>). Whatever writes a host's row puts the row in
    /// with the <c>applied</c> action of <see cref="WriteAsync{T}(Func{SqliteConnection, SqliteTransaction, T}, Action{T}, CancellationToken)"/>.
    /// </summary>
    public HostCache Hosts { get; }

    /// <summary>Runs <paramref name="work"/> in a write transaction, one writer at a time.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken = default) =>
        WriteAsync(work, static _ => { }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction, one writer at a time, then <paramref name="applied"/>
    /// with its result before the next write runs: the place to update what is kept in memory, so that the next
    /// writer sees it. Should the transaction then fail to commit, <see cref="Hosts"/> is read again.
    /// </summary>
    /// <remarks>
    /// Writes that arrive while one runs are committed together (<see cref="GroupCommit"/>); each still succeeds or
    /// fails alone, and its caller hears only after the commit.
    /// </remarks>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, Action<T> applied, CancellationToken cancellationToken = default) =>
        _writes.WriteAsync(work, applied, cancellationToken);

    Task<T> IStoreDatabase.WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, Action<T> applied, CancellationToken cancellationToken) =>
        WriteAsync((connection, transaction) => work(connection, transaction), applied, cancellationToken);

    T IStoreDatabase.Read<T>(Func<DbConnection, T> work) => Read(connection => work(connection));

    private Exception WriteFailure(Exception e) => e is SqliteException sqlite
        ? new StoreException($"writing to the database {Path} failed: {sqlite.Message}; check free disk space and that no other process holds the file", sqlite)
        : e;

    public T Read<T>(Func<SqliteConnection, T> work)
    {
        var connection = _readers.TryTake(out var idle) ? idle : null;
        try
        {
            connection ??= Open();
            return work(connection);
        }
        catch (SqliteException e)
        {
            throw new StoreException($"reading the database {Path} failed: {e.Message}", e);
        }
        finally
        {
            if (connection is not null)
            {
                if (_readers.Count < IdleReaders)
                {
                    _readers.Add(connection);
                }
                else
                {
                    Close(connection);
                }
            }
        }
    }

    public void Dispose()
    {
        _checkpoints.Dispose();
        lock (_checkpointGate)
        {
            Close(_checkpointer);
        }

        while (_readers.TryTake(out var reader))
        {
            Close(reader);
        }

        Close(_writer);
        _lock.Dispose();
    }

    /// <summary>
    /// Copies what the WAL holds into the database as far as no reader needs the WAL's older pages; nothing to do (no
    /// commit since the last pass that copied every frame) costs a read of a counter.
    /// </summary>
    private void Checkpoint()
    {
        var commits = _writes.Commits;
        if (commits == Volatile.Read(ref _checkpointedCommits) || !_checkpointGate.TryEnter())
        {
            return;
        }

        try
        {
            // One row: whether it was blocked, the WAL's frames, and how many of them are now in the database. A
            // reader still on older frames keeps some from being copied; the next pass tries them again.
            using var command = Command(_checkpointer, null, "PRAGMA wal_checkpoint(PASSIVE)");
            using var result = command.ExecuteReader();
            if (result.Read() && result.GetInt64(1) == result.GetInt64(2))
            {
                Volatile.Write(ref _checkpointedCommits, commits);
            }
        }
        catch (Exception e) when (e is SqliteException or ObjectDisposedException or InvalidOperationException)
        {
            // The next tick tries again; a database that stays unwritable shows in the writes' own errors.
        }
        finally
        {
            _checkpointGate.Exit();
        }
    }

    /// <summary>
    /// Locks PATH.lock for as long as this database is open: a second scheduler on the same file would place with
    /// hosts cached in memory that the first one's claims never reach, and oversubscribe them.
    /// </summary>
    private static FileStream TakeLock(string path)
    {
        try
        {
            return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new StoreException(
                $"another scheduler has the database {path} open (it holds {path}.lock); stop it, or give this one its own --database. " +
                "Several scheduler replicas share a PostgreSQL store, not an SQLite file", e);
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();

        // temp_store=MEMORY also keeps the sub-journal in memory: every write of a group commit runs in a savepoint,
        // whose first change to a page copies the page there; in a file that is two write calls per page.
        Execute(connection, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY;");
        StatementCache.Attach(connection);
        return connection;
    }

    private static void Close(SqliteConnection connection)
    {
        StatementCache.Detach(connection);
        connection.Dispose();
    }

    /// <summary>
    /// A command in the transaction (or none) with its named parameters; a null value is SQL NULL. On a connection
    /// this class opened, the command comes prepared from its <see cref="StatementCache"/>; disposing it returns it there.
    /// </summary>
    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = StatementCache.Take(connection, sql) ?? new SqliteCommand(sql, connection);
        command.Transaction = transaction;
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
