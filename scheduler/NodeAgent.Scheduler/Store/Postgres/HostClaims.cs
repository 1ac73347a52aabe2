using Npgsql;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// The atomic claim that lets several scheduler replicas place on one PostgreSQL: a placement claims its host, then
/// writes its lease in the same transaction, and no two replicas can together push a host past what it can take.
/// </summary>
/// <remarks>
/// <para>
/// Who counts: the held_* triggers (<see cref="PostgresSchema"/> step 6) are the only writers of held_*, as in SQLite.
/// A claim adds nothing; it checks that the host can take <c>claim</c> on top of what it holds and locks the host's
/// row (<c>FOR NO KEY UPDATE</c>) until the transaction ends. The lease the placement then writes in a holding state
/// is counted once, by its trigger, while the lock keeps every other claim and heartbeat on that host waiting.
/// Had the claim added, the trigger would count that lease a second time, and a claim whose lease was never written
/// would stay counted; this way held_* equals the sum over the leases after every statement.
/// </para>
/// <para>
/// Why it is atomic: in READ COMMITTED (what <see cref="PostgresDatabase.WriteAsync{T}"/> uses), a locking read that
/// meets a row another transaction locked waits for that transaction, then evaluates its WHERE again on the row as
/// committed, with that transaction's leases counted. So each claim sees every claim before it whose lease committed.
/// </para>
/// <para>
/// The contract: write the claimed lease (or move it into a holding state) right after its claim, before the next claim
/// on the same host in the same transaction: the next claim sees only what the triggers have counted.
/// </para>
/// </remarks>
public static class HostClaims
{
    /// <summary>
    /// Whether <paramref name="host"/> can take <paramref name="claim"/> now: what its leases hold plus the claim within
    /// its capacity less what foreign domains use (vCPUs and memory), and within its disk. True locks the host's row
    /// until <paramref name="transaction"/> ends; false when it cannot take the claim or is not registered.
    /// </summary>
    public static bool TryClaim(NpgsqlConnection connection, NpgsqlTransaction transaction, HostId host, Resources claim)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(claim);
        if (claim.Vcpus < 0 || claim.MemoryBytes < 0 || claim.DiskBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(claim), claim, "a claim is never negative; to free capacity, move the lease out of its holding state");
        }

        using var command = new NpgsqlCommand(
            """
            SELECT 1 FROM hosts
            WHERE host_id = @id
              AND held_vcpus + @vcpus <= capacity_vcpus - foreign_vcpus
              AND held_memory_bytes + @memory <= capacity_memory_bytes - foreign_memory_bytes
              AND held_disk_bytes + @disk <= capacity_disk_bytes
            FOR NO KEY UPDATE
            """,
            connection, transaction);
        command.Parameters.AddWithValue("id", host.Value);
        command.Parameters.AddWithValue("vcpus", claim.Vcpus);
        command.Parameters.AddWithValue("memory", claim.MemoryBytes);
        command.Parameters.AddWithValue("disk", claim.DiskBytes);
        return command.ExecuteScalar() is not null;
    }
}
