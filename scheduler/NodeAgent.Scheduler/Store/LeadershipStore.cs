namespace NodeAgent.Scheduler.Store;

/// <summary>Who holds a duty among scheduler replicas sharing one database, and until when.</summary>
public interface ILeadershipStore
{
    /// <summary>
    /// Takes or renews <paramref name="duty"/> for <paramref name="holder"/> until <paramref name="until"/>, if no
    /// other holder's term is still running at <paramref name="now"/>. Returns the holder afterwards: the caller
    /// holds the duty when it is itself.
    /// </summary>
    Task<string> HoldAsync(string duty, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken = default);

    /// <summary>Gives the duty up if <paramref name="holder"/> holds it, so another replica can take it at once.</summary>
    Task ReleaseAsync(string duty, string holder, CancellationToken cancellationToken = default);
}

/// <summary>Duties in SQLite (schema step 19): one conditional upsert per term renewal.</summary>
public sealed class SqliteLeadershipStore(SqliteDatabase database) : ILeadershipStore
{
    public Task<string> HoldAsync(string duty, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            using (var hold = SqliteDatabase.Command(connection, transaction, """
                INSERT INTO leadership (duty, holder, held_until) VALUES ($duty, $holder, $until)
                ON CONFLICT (duty) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
                WHERE leadership.holder = excluded.holder OR leadership.held_until <= $now
                """,
                ("$duty", duty), ("$holder", holder), ("$until", until.ToUnixTimeMilliseconds()), ("$now", now.ToUnixTimeMilliseconds())))
            {
                hold.ExecuteNonQuery();
            }

            using var read = SqliteDatabase.Command(connection, transaction, "SELECT holder FROM leadership WHERE duty = $duty", ("$duty", duty));
            return (string)read.ExecuteScalar()!;
        }, cancellationToken);

    public Task ReleaseAsync(string duty, string holder, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            using var release = SqliteDatabase.Command(connection, transaction, "DELETE FROM leadership WHERE duty = $duty AND holder = $holder", ("$duty", duty), ("$holder", holder));
            return release.ExecuteNonQuery();
        }, cancellationToken);
}
