using Npgsql;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// Duties on PostgreSQL (schema step 8): one conditional upsert per term renewal, judged by the server's clock, so
/// replicas whose clocks disagree still agree on whose term is running. The caller's times give only the term's
/// length (<c>until - now</c>).
/// </summary>
public sealed class PostgresLeadershipStore(PostgresDatabase database) : ILeadershipStore
{
    public Task<string> HoldAsync(string duty, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            using (var hold = new NpgsqlCommand("""
                INSERT INTO leadership (duty, holder, held_until)
                VALUES (@duty, @holder, (extract(epoch FROM clock_timestamp()) * 1000)::bigint + @term)
                ON CONFLICT (duty) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
                WHERE leadership.holder = excluded.holder OR leadership.held_until <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                """, connection, transaction))
            {
                hold.Parameters.AddWithValue("duty", duty);
                hold.Parameters.AddWithValue("holder", holder);
                hold.Parameters.AddWithValue("term", (long)(until - now).TotalMilliseconds);
                hold.ExecuteNonQuery();
            }

            using var read = new NpgsqlCommand("SELECT holder FROM leadership WHERE duty = @duty", connection, transaction);
            read.Parameters.AddWithValue("duty", duty);
            return (string)read.ExecuteScalar()!;
        }, cancellationToken);

    public Task ReleaseAsync(string duty, string holder, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            using var release = new NpgsqlCommand("DELETE FROM leadership WHERE duty = @duty AND holder = @holder", connection, transaction);
            release.Parameters.AddWithValue("duty", duty);
            release.Parameters.AddWithValue("holder", holder);
            return release.ExecuteNonQuery();
        }, cancellationToken);
}
