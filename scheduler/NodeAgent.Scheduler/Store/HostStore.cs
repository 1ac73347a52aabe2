using System.Text.Json;
using System.Text.Json.Serialization;
using System.Data.Common;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>The source of truth for registered hosts and their last heartbeat.</summary>
public interface IHostStore
{
    Task UpsertAsync(HostRegistration registration, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Records a heartbeat; false when the host is not registered.</summary>
    Task<bool> RecordHeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken = default);

    /// <summary>
    /// Keeps a heartbeat in memory only: <see cref="List"/> and <see cref="Find"/> show it, the database keeps the last
    /// one recorded. False when the host is not registered.
    /// </summary>
    bool NoteHeartbeat(Heartbeat heartbeat);

    IReadOnlyList<HostRecord> List();

    HostRecord? Find(HostId id);

    /// <summary>What the host's heartbeats brought since this scheduler started, kept beside its row; null when the host is not registered.</summary>
    Hosts.HostLive? Live(HostId id);

    /// <summary>
    /// Sets the host's admin state to <paramref name="updated"/> if it is still exactly <paramref name="expected"/>;
    /// false when it changed meanwhile (or the host is not registered), so a drain that completes and an operator's
    /// enable at the same moment cannot overwrite each other unseen.
    /// </summary>
    Task<bool> SetAdminAsync(HostId id, HostAdmin expected, HostAdmin updated, CancellationToken cancellationToken = default);

    /// <summary>The leases that hold capacity on the host (<see cref="Lease.CapacityHoldingStates"/>), oldest first.</summary>
    IReadOnlyList<LeaseId> LeasesHoldingCapacity(HostId id);
}

/// <summary>Hosts in the scheduler's database, either engine.</summary>
public sealed class HostStore(IStoreDatabase database) : IHostStore
{
    public Task UpsertAsync(HostRegistration registration, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            Sql.Execute(connection, transaction, """
                INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                                   capacity_disk_bytes, labels, features, networks, registered_at, admin_since)
                VALUES (@id, @hostname, @version, @arch, @type, @vcpus, @memory, @disk, @labels, @features, @networks, @now, @now)
                ON CONFLICT (host_id) DO UPDATE SET
                    hostname = excluded.hostname, agent_version = excluded.agent_version, architecture = excluded.architecture,
                    domain_type = excluded.domain_type, capacity_vcpus = excluded.capacity_vcpus,
                    capacity_memory_bytes = excluded.capacity_memory_bytes, capacity_disk_bytes = excluded.capacity_disk_bytes,
                    labels = excluded.labels, features = excluded.features, networks = excluded.networks
                """,
                ("@id", registration.Id.Value), ("@hostname", registration.Hostname), ("@version", registration.AgentVersion),
                ("@arch", registration.Architecture), ("@type", registration.DomainType), ("@vcpus", registration.Capacity.Vcpus),
                ("@memory", registration.Capacity.MemoryBytes), ("@disk", registration.Capacity.DiskBytes),
                ("@labels", JsonSerializer.Serialize(new Dictionary<string, string>(registration.Labels), StoreJson.Default.DictionaryStringString)),
                ("@features", JsonSerializer.Serialize(registration.Features.ToList(), StoreJson.Default.ListString)),
                ("@networks", JsonSerializer.Serialize(registration.Networks.ToList(), StoreJson.Default.ListString)),
                ("@now", now.ToUnixTimeMilliseconds()));
            return HostRows.ReadOne(database.Sql, connection, transaction, registration.Id);
        }, database.Hosts.Put, cancellationToken);

    public async Task<bool> RecordHeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken = default) =>
        await database.WriteAsync((connection, transaction) =>
        {
            using var command = Sql.Command(connection, transaction, """
                UPDATE hosts SET last_heartbeat_at = @at, capacity_vcpus = @vcpus, capacity_memory_bytes = @memory,
                    capacity_disk_bytes = @disk, load_cpu = @cpu, load_memory_available_bytes = @available,
                    load_average_1m = @loadavg, load_running_workspaces = @running,
                    foreign_vcpus = @fvcpus, foreign_memory_bytes = @fmemory, degraded_reason = @degraded
                WHERE host_id = @id
                """,
                ("@id", heartbeat.HostId.Value), ("@at", heartbeat.ReceivedAt.ToUnixTimeMilliseconds()),
                ("@vcpus", heartbeat.Capacity.Vcpus), ("@memory", heartbeat.Capacity.MemoryBytes), ("@disk", heartbeat.Capacity.DiskBytes),
                ("@cpu", heartbeat.Load.CpuUtilization), ("@available", heartbeat.Load.MemoryAvailableBytes),
                ("@loadavg", heartbeat.Load.LoadAverage1m), ("@running", heartbeat.Load.RunningWorkspaces),
                ("@fvcpus", heartbeat.Load.Foreign.Vcpus), ("@fmemory", heartbeat.Load.Foreign.MemoryBytes), ("@degraded", heartbeat.DegradedReason));
            return command.ExecuteNonQuery() == 1;
        }, recorded =>
        {
            if (recorded)
            {
                database.Hosts.Change(heartbeat.HostId, host => host.With(heartbeat));
            }
        }, cancellationToken);

    public bool NoteHeartbeat(Heartbeat heartbeat) => database.Hosts.Change(heartbeat.HostId, host => host.With(heartbeat));

    public async Task<bool> SetAdminAsync(HostId id, HostAdmin expected, HostAdmin updated, CancellationToken cancellationToken = default) =>
        await database.WriteAsync((connection, transaction) =>
        {
            using var command = Sql.Command(connection, transaction, """
                UPDATE hosts SET admin_state = @state, admin_reason = @reason, drain_deadline = @deadline, admin_since = @since, admin_by = @by
                WHERE host_id = @id AND admin_state = @was_state AND admin_reason = @was_reason AND drain_deadline IS NOT DISTINCT FROM @was_deadline
                    AND admin_since = @was_since AND admin_by = @was_by
                """,
                [("@id", id.Value), .. Admin("@", updated), .. Admin("@was_", expected)]);
            return command.ExecuteNonQuery() == 1 ? HostRows.ReadOne(database.Sql, connection, transaction, id) : null;
        }, row =>
        {
            if (row is not null)
            {
                database.Hosts.Put(row);
            }
        }, cancellationToken) is not null;

    public IReadOnlyList<LeaseId> LeasesHoldingCapacity(HostId id) => database.Read(connection =>
    {
        using var command = Sql.Command(connection, null,
            $"SELECT lease_id FROM leases WHERE host_id = @id AND state IN ({HostRows.Holding}) ORDER BY created_at, lease_id", ("@id", id.Value));
        using var reader = command.ExecuteReader();
        var leases = new List<LeaseId>();
        while (reader.Read())
        {
            leases.Add(LeaseId.Parse(reader.GetString(0)));
        }

        return leases;
    });

    private static (string, object?)[] Admin(string prefix, HostAdmin admin) =>
    [
        (prefix + "state", HostAdminStateMachine.Name(admin.State)), (prefix + "reason", admin.Reason),
        (prefix + "deadline", admin.DrainDeadline?.ToUnixTimeMilliseconds()), (prefix + "since", admin.Since.ToUnixTimeMilliseconds()),
        (prefix + "by", admin.ChangedBy),
    ];

    public IReadOnlyList<HostRecord> List() => [.. database.Hosts.All()];

    public HostRecord? Find(HostId id) => database.Hosts.Find(id);

    public Hosts.HostLive? Live(HostId id) => database.Hosts.Live(id);
}

/// <summary>Reads hosts with what the leases placed on them hold, in one query.</summary>
internal static class HostRows
{
    /// <summary>The lease states that count against a host's capacity, as stored: <see cref="Lease.CapacityHoldingStates"/>.</summary>
    public static readonly string Holding = string.Join(", ", Lease.CapacityHoldingStates.Select(s => $"'{s.ToString().ToLowerInvariant()}'"));

    private static readonly Dictionary<string, HostAdminState> AdminStates = Enum.GetValues<HostAdminState>().ToDictionary(HostAdminStateMachine.Name, StringComparer.Ordinal);

    private const string Registered = """
        SELECT h.host_id, h.hostname, h.agent_version, h.architecture, h.domain_type, h.capacity_vcpus, h.capacity_memory_bytes,
               h.capacity_disk_bytes, h.labels, h.features, h.registered_at, h.last_heartbeat_at, h.load_cpu,
               h.load_memory_available_bytes, h.load_average_1m, h.load_running_workspaces,
        """;

    private const string Rest = """
               h.foreign_vcpus, h.foreign_memory_bytes, h.degraded_reason,
               h.networks, h.admin_state, h.admin_reason, h.drain_deadline, h.admin_since, h.admin_by,
        """;

    /// <summary>Every column of a host on PostgreSQL, where triggers keep what its leases hold on its row (schema step 17).</summary>
    private const string WithHoldings = Registered + " h.desired_version, h.held_vcpus, h.held_memory_bytes, h.held_disk_bytes, " + Rest + " h.stopping_leases FROM hosts h";

    /// <summary>
    /// Every column of a host on SQLite, whose rows do not keep what leases hold, how many stop, or the desired version
    /// (schema step 25): they read as 0 here, and the scheduler keeps them in memory (<see cref="HostCache"/>).
    /// </summary>
    private const string WithoutHoldings = Registered + " 0, 0, 0, 0, " + Rest + " 0 FROM hosts h";

    /// <summary>Every column of a host, in the order <see cref="ReadAll"/> reads.</summary>
    public static string Select(SqlDialect sql) => sql.Replicated ? WithHoldings : WithoutHoldings;

    /// <summary>The host's row as this transaction sees it.</summary>
    public static HostRecord ReadOne(SqlDialect sql, DbConnection connection, DbTransaction? transaction, HostId id, string locking = "")
    {
        using var command = Sql.Command(connection, transaction, Select(sql) + " WHERE h.host_id = @id" + locking, ("@id", id.Value));
        return ReadAll(command).SingleOrDefault() ?? throw new StoreException($"host {id} is not in the database");
    }

    /// <summary>
    /// Every host on SQLite, with what its leases hold and how many of them are stopping summed from the leases, and a
    /// desired version never given out before: what <see cref="HostCache"/> keeps from then on.
    /// </summary>
    public static List<HostRecord> ReadWithHoldings(DbConnection connection, DesiredVersions versions)
    {
        using var hosts = Sql.Command(connection, null, WithoutHoldings + " ORDER BY h.host_id");
        var rows = ReadAll(hosts);
        using var held = Sql.Command(connection, null, $"""
            SELECT host_id, SUM(vcpus), SUM(memory_bytes), SUM(disk_bytes + data_disk_total_bytes), SUM(CASE WHEN state = 'stopping' THEN 1 ELSE 0 END)
            FROM leases WHERE host_id IS NOT NULL AND state IN ({Holding}) GROUP BY host_id
            """);
        using var r = held.ExecuteReader();
        var holdings = new Dictionary<string, (Resources Held, int Stopping)>(StringComparer.Ordinal);
        while (r.Read())
        {
            holdings[r.GetString(0)] = (new Resources(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3)), r.GetInt32(4));
        }

        return rows.ConvertAll(host => holdings.TryGetValue(host.Id.Value, out var h)
            ? host with { Allocated = h.Held, StoppingLeases = h.Stopping, DesiredVersion = versions.Next() }
            : host with { DesiredVersion = versions.Next() });
    }

    public static List<HostRecord> ReadAll(DbCommand command)
    {
        using var reader = command.ExecuteReader();
        var hosts = new List<HostRecord>();
        while (reader.Read())
        {
            hosts.Add(Read(reader));
        }

        return hosts;
    }

    private static HostRecord Read(DbDataReader r)
    {
        var registration = new HostRegistration(
            HostId.Parse(r.GetString(0)),
            r.GetString(1),
            r.GetString(2),
            r.GetString(3),
            r.GetString(4),
            new Resources(r.GetInt32(5), r.GetInt64(6), r.GetInt64(7)),
            JsonSerializer.Deserialize(r.GetString(8), StoreJson.Default.DictionaryStringString) ?? [],
            JsonSerializer.Deserialize(r.GetString(9), StoreJson.Default.ListString) ?? [])
        {
            Networks = JsonSerializer.Deserialize(r.GetString(23), StoreJson.Default.ListString) ?? [],
        };
        var load = new HostLoad(r.GetDouble(12), r.GetInt64(13), r.GetDouble(14), r.GetInt32(15), new Resources(r.GetInt32(20), r.GetInt64(21), 0));
        DateTimeOffset? lastHeartbeat = r.IsDBNull(11) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(11));
        var allocated = new Resources(r.GetInt32(17), r.GetInt64(18), r.GetInt64(19));
        return new HostRecord(registration, load, allocated, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(10)), lastHeartbeat, r.GetInt64(16), r.GetString(22))
        {
            Admin = new HostAdmin(
                AdminState(r.GetString(24)),
                r.GetString(25),
                r.IsDBNull(26) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(26)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(27)),
                r.GetString(28)),
            StoppingLeases = r.GetInt32(29),
        };
    }

    /// <summary>The state as stored (<see cref="HostAdminStateMachine.Name"/>; the schema's CHECK allows nothing else).</summary>
    private static HostAdminState AdminState(string stored) =>
        AdminStates.TryGetValue(stored, out var state)
            ? state
            : throw new StoreException($"a host's admin_state is '{stored}', which this scheduler does not know; run the scheduler version that wrote it");
}

[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<long>))]
internal sealed partial class StoreJson : JsonSerializerContext;
