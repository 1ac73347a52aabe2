using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Group commit on the one writer connection. Writes queue up; the caller that finds no writer running becomes the
/// writer and runs every queued write, in arrival order, in one transaction, each inside its own savepoint: a write
/// that throws is rolled back alone and its caller gets the exception, the others commit together. Writes queued
/// while the transaction runs join it, until none are left to join (<see cref="YieldsBeforeCommit"/>). Every caller
/// hears of its write only after the commit, so an answer still means a durable write; what a burst of 64
/// placements saves is 63 commits and 63 hand-overs of a lock.
/// A write's <c>applied</c> action runs as soon as its savepoint is released, before the next write runs, so
/// what is kept in memory is what the next write must see; if the commit then fails, <c>reload</c> reads that
/// memory again from the database, before the next batch starts.
/// </summary>
internal sealed class GroupCommit(SqliteConnection connection, Func<Exception, Exception> translate, Action reload, Func<ICommitObserver?> observer)
{
    /// <summary>At most this many writes share a transaction; a longer queue is drained in several.</summary>
    public const int MaxBatch = 256;

    /// <summary>
    /// How many times, at most, the writer lets other threads run before it commits, when no more writes are queued.
    /// Under load the requests whose writes would come next are being planned on this machine's other threads, and
    /// they queue them meanwhile: with 64 single placements in flight on 2 cores, a commit then carries 20–35 writes
    /// rather than 7, and the WAL is written once for all of them (docs/scale.md). With nothing else to run, a yield
    /// returns at once.
    /// </summary>
    internal const int YieldsBeforeCommit = 2;

    private readonly ConcurrentQueue<IPendingWrite> _queue = new();
    private int _writing;
    private bool _reloadNeeded;
    private long _commits;

    /// <summary>Transactions committed so far: the checkpointer skips its pass when none were since the last one.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, Action<T> applied, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var write = new PendingWrite<T>(work, applied, cancellationToken);
        _queue.Enqueue(write);
        Drain();
        return write.Task;
    }

    private void Drain()
    {
        // A write queued just after the writer last looked is seen when it looks again after letting go.
        while (!_queue.IsEmpty && Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            try
            {
                while (!_queue.IsEmpty)
                {
                    RunBatch();
                }
            }
            finally
            {
                Volatile.Write(ref _writing, 0);
            }
        }
    }

    private void RunBatch()
    {
        var batch = new List<IPendingWrite>();
        while (batch.Count < MaxBatch && _queue.TryDequeue(out var queued))
        {
            if (!queued.CancelIfRequested())
            {
                batch.Add(queued);
            }
        }

        if (batch.Count == 0)
        {
            return;
        }

        var alone = batch.Count == 1;
        var began = System.Diagnostics.Stopwatch.GetTimestamp();
        var done = new List<IPendingWrite>(batch.Count);
        var applied = false;
        try
        {
            if (_reloadNeeded)
            {
                reload();
                _reloadNeeded = false;
            }

            using var transaction = connection.BeginTransaction();
            var next = 0;
            var yields = 0;
            while (true)
            {
                if (next == batch.Count)
                {
                    if (!TakeMore(batch, ref yields))
                    {
                        break;
                    }

                    alone = false;
                }

                var write = batch[next++];
                if (!alone)
                {
                    Execute(transaction, "SAVEPOINT write");
                }

                try
                {
                    write.Run(connection, transaction);
                }
                catch (Exception e) when (!alone)
                {
                    Execute(transaction, "ROLLBACK TO write");
                    Execute(transaction, "RELEASE write");
                    write.Fail(translate(e));
                    continue;
                }

                if (!alone)
                {
                    Execute(transaction, "RELEASE write");
                }

                applied = true;
                write.Apply();
                done.Add(write);
            }

            transaction.Commit();
            Interlocked.Increment(ref _commits);
            observer()?.Committed(done.Count, System.Diagnostics.Stopwatch.GetElapsedTime(began));
        }
        catch (Exception e)
        {
            // Nothing of this batch is stored: whatever a write applied to memory is read again, before the next
            // batch at the latest (if the database cannot be read now, that batch fails and says so).
            _reloadNeeded |= applied;
            var failure = translate(e);
            foreach (var write in batch)
            {
                write.Fail(failure);
            }

            TryReload();
            return;
        }

        foreach (var write in done)
        {
            write.Complete();
        }
    }

    /// <summary>
    /// Adds the writes queued since the batch was taken to it, before it commits; when none are, lets other threads have
    /// this core first, up to <see cref="YieldsBeforeCommit"/> times in all. False when none came.
    /// </summary>
    private bool TakeMore(List<IPendingWrite> batch, ref int yields)
    {
        var before = batch.Count;
        while (true)
        {
            while (batch.Count < MaxBatch && _queue.TryDequeue(out var queued))
            {
                if (!queued.CancelIfRequested())
                {
                    batch.Add(queued);
                }
            }

            if (batch.Count > before || batch.Count >= MaxBatch || yields == YieldsBeforeCommit)
            {
                return batch.Count > before;
            }

            yields++;
            Thread.Yield();
        }
    }

    private void TryReload()
    {
        if (!_reloadNeeded)
        {
            return;
        }

        try
        {
            reload();
            _reloadNeeded = false;
        }
        catch (Exception e) when (e is SqliteException or StoreException)
        {
            // Still needed: the next batch reloads first.
        }
    }

    private void Execute(SqliteTransaction transaction, string sql)
    {
        using var command = SqliteDatabase.Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    private interface IPendingWrite
    {
        /// <summary>True (and the caller told) when the caller gave up waiting before the write ran.</summary>
        bool CancelIfRequested();

        void Run(SqliteConnection connection, SqliteTransaction transaction);

        void Apply();

        void Complete();

        /// <summary>Fails the write unless it already completed or failed.</summary>
        void Fail(Exception exception);
    }

    private sealed class PendingWrite<T>(Func<SqliteConnection, SqliteTransaction, T> work, Action<T> applied, CancellationToken cancellationToken) : IPendingWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _completion.Task;

        public bool CancelIfRequested() => cancellationToken.IsCancellationRequested && _completion.TrySetCanceled(cancellationToken);

        public void Run(SqliteConnection connection, SqliteTransaction transaction) => _result = work(connection, transaction);

        public void Apply() => applied(_result);

        public void Complete() => _completion.TrySetResult(_result);

        public void Fail(Exception exception) => _completion.TrySetException(exception);
    }
}
