using System.Data;
using System.Data.Common;
using Npgsql;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// The scheduler's PostgreSQL database: one pooled data source for a connection string, with the schema brought to
/// the newest version when it opens (<see cref="PostgresSchema"/>). Several scheduler replicas may open the same
/// database. Each write is its own READ COMMITTED transaction, whatever the server's default: each statement sees
/// what other replicas committed before it started, and a write that waited for another's lock reads what that one
/// wrote (LeaseStore.Hosts.cs checks a claimed host against its row that way).
/// Every <see cref="NpgsqlException"/> leaves as a <see cref="StoreException"/> that names the server (never the password).
/// </summary>
/// <remarks>
/// The data source is Npgsql's slim one: it knows the types the schema uses (text, integer, bigint, double precision,
/// bytea, boolean) and adds about 5.6 MB to a native-AOT binary where the full one adds about 12.7 MB, with no trim or
/// AOT warning either way. It reads each type only as itself: an <c>integer</c> column with GetInt32, a
/// <c>bigint</c> one (and COUNT(*)) with GetInt64; SUM of a <c>bigint</c> column is <c>numeric</c> and needs a cast.
/// </remarks>
public sealed class PostgresDatabase : IStoreDatabase, IDisposable, IAsyncDisposable
{
    /// <summary>How often a write that lost a race with another writer is run again before its caller hears of it.</summary>
    public const int MaxAttempts = 32;

    /// <summary>How often the host cache is read again by default, for what other replicas wrote (at least: see RefreshOnSchedule).</summary>
    public static readonly TimeSpan DefaultHostRefresh = TimeSpan.FromSeconds(1);

    /// <summary>At most this many connections per replica unless the connection string says Max Pool Size.</summary>
    public const int DefaultPoolSize = 20;

    /// <summary>At most this many of a replica's write transactions run at once; the others wait their turn without a thread.</summary>
    public const int MaxConcurrentWrites = 4;

    private readonly NpgsqlDataSource _source;
    private readonly Timer? _refresh;
    private readonly TimeSpan _hostRefresh;
    private readonly SemaphoreSlim _writers = new(MaxConcurrentWrites);
    private readonly Random _jitter;
    private long _refreshedAt;

    /// <summary>Opens the database and applies the schema; throws <see cref="StoreException"/> when either fails.</summary>
    /// <param name="hostRefresh">How often <see cref="Hosts"/> is read again (null: <see cref="DefaultHostRefresh"/>; <see cref="Timeout.InfiniteTimeSpan"/>: never).</param>
    /// <param name="random">Where the waits between a write's attempts come from (the shared generator unless a test passes its own).</param>
    public PostgresDatabase(string connectionString, TimeSpan? hostRefresh = null, Random? random = null)
    {
        _jitter = random ?? Random.Shared;
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

        // A placement runs a dozen statements, the same ones every time: prepared once per pooled connection, each runs
        // without being parsed and planned again.
        if (settings.MaxAutoPrepare == 0)
        {
            settings.MaxAutoPrepare = 64;
        }

        // Npgsql's default of 100 connections per replica would let three replicas take all of a default server's 100;
        // 20 keep every core of the server busy and leave room. Say Max Pool Size=N to choose.
        if (!connectionString.Contains("pool size", StringComparison.OrdinalIgnoreCase))
        {
            settings.MaxPoolSize = DefaultPoolSize;
        }

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
            Hosts = new HostCache(() => Read(c =>
            {
                using var command = Store.Sql.Command(c, null, HostRows.Select(SqlDialect.Postgres) + " ORDER BY h.host_id");
                return HostRows.ReadAll(command);
            }));
            Hosts.Refresh();
        }
        catch
        {
            _source.Dispose();
            throw;
        }

        _hostRefresh = hostRefresh ?? DefaultHostRefresh;
        if (_hostRefresh != Timeout.InfiniteTimeSpan)
        {
            _refresh = new Timer(_ => RefreshOnSchedule(), null, _hostRefresh, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Every host's row, in memory: read when the database opens, again every second or so (other replicas write
    /// too), and after each of this replica's writes for the hosts it changed. Placement chooses on it; a write checks
    /// the host it claims against the database (LeaseStore.Hosts.cs), so a cache that is behind costs a retry, never a
    /// host pushed past its capacity.
    /// </summary>
    public HostCache Hosts { get; }

    public SqlDialect Sql => SqlDialect.Postgres;

    /// <summary>None: another replica may change a quota at any time.</summary>
    public QuotaCache? Quotas => null;

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
    /// throws, nothing of it is kept. Writes of several callers (and replicas) run at once, at most
    /// <see cref="MaxConcurrentWrites"/> of this replica's: what must not interleave takes locks (<see cref="SqlDialect"/>)
    /// or relies on a UNIQUE constraint.
    /// </summary>
    /// <remarks>
    /// The work runs synchronously, and a write may wait on another's lock: unbounded, 200 requests waiting on one
    /// network's addresses would hold 200 thread-pool threads, and the server would stop answering anything else.
    /// </remarks>
    public Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, T> work, CancellationToken cancellationToken = default) =>
        RunAsync("writing to", async () =>
        {
            await _writers.WaitAsync(cancellationToken);
            try
            {
                await using var connection = await _source.OpenConnectionAsync(cancellationToken);
                var began = System.Diagnostics.Stopwatch.GetTimestamp();
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
                var result = work(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
                Commits?.Committed(1, System.Diagnostics.Stopwatch.GetElapsedTime(began));
                return result;
            }
            finally
            {
                _writers.Release();
            }
        });

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction as <see cref="WriteAsync{T}(Func{NpgsqlConnection, NpgsqlTransaction, T}, CancellationToken)"/>
    /// does, then <paramref name="applied"/>. Work that lost a race is run again, up to <see cref="MaxAttempts"/> times:
    /// a deadlock or serialization failure (40P01, 40001), a unique key another writer took first (23505: a queue
    /// position, an image version, an address; or a request id, which the work then finds stored), or a host that
    /// changed since it was chosen (<see cref="HostChangedException"/>, whose row goes into <see cref="Hosts"/> first).
    /// </summary>
    async Task<T> IStoreDatabase.WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, Action<T> applied, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await WriteAsync((connection, transaction) => work(connection, transaction), cancellationToken);
                applied(result);
                return result;
            }
            catch (HostChangedException e)
            {
                Hosts.Put(e.Current);
                if (attempt == MaxAttempts)
                {
                    throw new StoreException(
                        $"host {e.Current.Id} changed under {MaxAttempts} attempts in a row to place on it (other replicas are placing there too); try again", e);
                }

                // A second miss says the cache is behind on more than one host: read it all again (at most every 100 ms).
                if (attempt > 1)
                {
                    RefreshHostsAtMostEvery(TimeSpan.FromMilliseconds(100));
                }
            }
            catch (StoreException e) when (attempt < MaxAttempts && e.InnerException is PostgresException { SqlState: "40001" or "40P01" or "23505" })
            {
            }

            // Writers that collided wait a little, each a different while, so they do not collide again at once.
            await Task.Delay(TimeSpan.FromMilliseconds(_jitter.Next(0, Math.Min(attempt, 10) + 1)), cancellationToken);
        }
    }

    T IStoreDatabase.Read<T>(Func<DbConnection, T> work) => Read(connection => work(connection));

    public ICommitObserver? Commits { get; set; }

    public void Dispose()
    {
        _refresh?.Dispose();
        _source.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_refresh is not null)
        {
            await _refresh.DisposeAsync();
        }

        await _source.DisposeAsync();
    }

    private void RefreshHostsAtMostEvery(TimeSpan interval)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _refreshedAt);
        if (now - last >= interval.TotalMilliseconds && Interlocked.CompareExchange(ref _refreshedAt, now, last) == last)
        {
            RefreshHosts();
        }
    }

    /// <summary>
    /// Reads <see cref="Hosts"/> again, then schedules the next read after the refresh interval or 20 times as long as
    /// this one took, whichever is longer: reading 10,000 hosts takes tens of milliseconds, and a replica should not
    /// spend more than about a twentieth of its time on it (the claim check keeps placement right meanwhile).
    /// </summary>
    private void RefreshOnSchedule()
    {
        var started = Environment.TickCount64;
        RefreshHosts();
        var next = TimeSpan.FromMilliseconds(Math.Max(_hostRefresh.TotalMilliseconds, 20.0 * (Environment.TickCount64 - started)));
        try
        {
            _refresh?.Change(next, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Closed meanwhile.
        }
    }

    /// <summary>Reads <see cref="Hosts"/> again; a server that cannot be read now is tried again at the next tick (the writes say why).</summary>
    private void RefreshHosts()
    {
        try
        {
            Hosts.Refresh();
        }
        catch (Exception e) when (e is StoreException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

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
