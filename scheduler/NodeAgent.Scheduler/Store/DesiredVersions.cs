using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Desired-set versions for a scheduler that keeps them in memory (alone on its SQLite file). An agent and the watch
/// compare versions only for equality, so a version must never stand for two different sets of one host, across a
/// restart too: each opening of the database takes the next epoch (a row of its own, schema step 25), and a version
/// is that epoch in the top bits above a counter of the run. One counter serves every host, so a host's versions
/// rise and the newest of two is the larger. 2^40 versions a run (three years at 10,000 placements a second), 2^23 runs.
/// </summary>
public sealed class DesiredVersions
{
    private const int CounterBits = 40;
    private const long MaxEpoch = (1L << (63 - CounterBits)) - 1;
    private readonly long _end;
    private long _last;

    public DesiredVersions(long epoch)
    {
        if (epoch is < 1 or > MaxEpoch)
        {
            throw new StoreException($"the desired-version epoch {epoch} is outside 1 to {MaxEpoch}; the database was opened more often than versions can tell apart");
        }

        _last = epoch << CounterBits;
        _end = (epoch + 1) << CounterBits;
    }

    /// <summary>A version never given out before.</summary>
    public long Next()
    {
        var next = Interlocked.Increment(ref _last);
        return next < _end
            ? next
            : throw new StoreException("this run of the scheduler has given out every desired version of its epoch; restart it to take the next");
    }

    /// <summary>Takes the next epoch in the database, committed before any version of it is given out.</summary>
    public static DesiredVersions Open(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE desired_version_epoch SET epoch = epoch + 1 RETURNING epoch";
        var epoch = command.ExecuteScalar() ?? throw new StoreException(
            "the table desired_version_epoch has no row, so desired versions could repeat; the database was changed by hand: " +
            "restore it from a backup, or run sqlite3 on it with \"INSERT INTO desired_version_epoch VALUES (1000000)\" (an epoch above any this file has used) and start again");
        return new DesiredVersions(Convert.ToInt64(epoch, System.Globalization.CultureInfo.InvariantCulture));
    }
}
