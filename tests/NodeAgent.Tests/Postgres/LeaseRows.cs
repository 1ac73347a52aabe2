using Npgsql;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// Hosts and leases written as bare rows, with the columns the schema requires, until the PostgreSQL store exists.
/// The statements are plain SQL with <c>@name</c> parameters, so they run unchanged on SQLite too.
/// </summary>
internal static class LeaseRows
{
    public const string InsertHost = """
        INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                           capacity_disk_bytes, labels, features, registered_at, foreign_vcpus, foreign_memory_bytes)
        VALUES (@id, @id, 'test', 'x86_64', 'qemu', @vcpus, @memory, @disk, '{}', '[]', 1800000000000, @foreign_vcpus, @foreign_memory)
        """;

    public const string InsertLease = """
        INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, data_disk_total_bytes, state, host_id,
                            created_at, expires_at, updated_at)
        VALUES (@id, 'alice', 'debian-12', @vcpus, @memory, @disk, @data_disks, @state, @host, 1800000000000, 1800007200000, 1800000000000)
        """;

    /// <summary>
    /// What each host's row says its leases hold, and what the leases table sums to (state names as
    /// <see cref="Lease.CapacityHoldingStates"/> stores them), by host id.
    /// </summary>
    public const string HeldAndSums = """
        SELECT h.host_id, h.held_vcpus, h.held_memory_bytes, h.held_disk_bytes,
               CAST(COALESCE(SUM(l.vcpus), 0) AS integer), CAST(COALESCE(SUM(l.memory_bytes), 0) AS bigint),
               CAST(COALESCE(SUM(l.disk_bytes + l.data_disk_total_bytes), 0) AS bigint)
        FROM hosts h LEFT JOIN leases l ON l.host_id = h.host_id AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
        GROUP BY h.host_id, h.held_vcpus, h.held_memory_bytes, h.held_disk_bytes ORDER BY h.host_id
        """;

    public static void Host(NpgsqlConnection connection, string id, Resources capacity, Resources foreign) =>
        PgSql.Execute(connection, InsertHost, ("id", id), ("vcpus", capacity.Vcpus), ("memory", capacity.MemoryBytes), ("disk", capacity.DiskBytes),
            ("foreign_vcpus", foreign.Vcpus), ("foreign_memory", foreign.MemoryBytes));

    /// <summary>A lease on <paramref name="host"/>; its whole disk claim is its root disk.</summary>
    public static void Lease(NpgsqlConnection connection, NpgsqlTransaction? transaction, string id, string host, Resources claim, string state = "starting") =>
        PgSql.Execute(connection, transaction, InsertLease, ("id", id), ("vcpus", claim.Vcpus), ("memory", claim.MemoryBytes), ("disk", claim.DiskBytes),
            ("data_disks", 0L), ("state", state), ("host", host));

    /// <summary>Each host's held_* and the sum over its holding leases.</summary>
    public static Dictionary<string, (Resources Held, Resources Sum)> Held(NpgsqlConnection connection, NpgsqlTransaction? transaction = null)
    {
        using var command = new NpgsqlCommand(HeldAndSums, connection, transaction);
        using var r = command.ExecuteReader();
        var held = new Dictionary<string, (Resources, Resources)>();
        while (r.Read())
        {
            held[r.GetString(0)] = (new Resources(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3)), new Resources(r.GetInt32(4), r.GetInt64(5), r.GetInt64(6)));
        }

        return held;
    }
}
