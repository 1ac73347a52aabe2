using System.Text.Json;
using Google.Protobuf;
using System.Data.Common;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// What the lease logic may read and change inside one transaction. A placement reads hosts and their
/// allocations, chooses, and claims in the same transaction, so two placements never both take the last
/// free capacity of a host. The queries of lease kinds (queues, reservations) are in LeaseStore.Kinds.cs.
/// </summary>
public partial interface ILeaseSession
{
    Lease? FindLease(LeaseId id);

    Lease? FindByRequestId(string owner, string requestId);

    IReadOnlyList<Lease> ListLeases(bool includeEnded);

    /// <summary>Up to <paramref name="limit"/> leases created after <paramref name="after"/> (oldest first, then by id); null: from the first.</summary>
    /// <param name="project">Only this project's leases; null for every project's.</param>
    /// <param name="group">Only this group's leases (<see cref="LeaseGroup"/>); null for every lease.</param>
    IReadOnlyList<Lease> ListLeases(bool includeEnded, LeasePosition? after, int limit, string? project = null, string? group = null);

    /// <summary>Leases on the host that are not yet ended or failed.</summary>
    IReadOnlyList<Lease> LiveLeasesOn(HostId host);

    /// <summary>Leases on the host whose workspaces are being removed (one index probe when there are none).</summary>
    IReadOnlyList<Lease> StoppingOn(HostId host);

    IReadOnlyList<Lease> DueForExpiry(DateTimeOffset now);

    IHostsWithLive Hosts();

    HostRecord? FindHost(HostId host);

    /// <summary>
    /// Stores a new lease. One that holds capacity on a host (a placement) is counted in what the host's leases hold and
    /// bumps the host's desired version (<see cref="BumpDesiredVersion"/>): on SQLite in the host cache, on PostgreSQL in
    /// the insert's trigger.
    /// </summary>
    void Insert(Lease lease);

    void Update(Lease lease);

    /// <summary>How many leases of the group hold capacity, or are reserved, on each host (anti-affinity or spread group).</summary>
    IReadOnlyDictionary<HostId, int> GroupLeasesByHost(string group, bool antiAffinity);

    /// <summary>Marks the host's desired set as changed and returns its new version.</summary>
    long BumpDesiredVersion(HostId host);

    /// <summary>
    /// Runs <paramref name="action"/> once this write commits, and never if it is rolled back: a write may run more
    /// than once (a claim another replica overtook) or be rolled back alone in its batch, and what it counts must count
    /// once. In a read, at once.
    /// </summary>
    void AfterCommit(Action action);

    /// <summary>
    /// The host's desired-set version as committed (in a write: as this transaction sees it); null when the host is not
    /// there. On SQLite the host cache keeps it and learns a bump once its write has committed; on PostgreSQL the row does.
    /// </summary>
    long? StoredDesiredVersion(HostId host);

    /// <summary>Every address held on the network, by live leases or in quarantine (expired quarantines included until forgotten).</summary>
    IReadOnlyList<AddressReservation> AddressesOn(string network);

    /// <summary>Whether any reservation, on any network, uses the MAC.</summary>
    bool MacInUse(string mac);

    /// <summary>Records an address as assigned to a lease; the lease may be inserted later in the same transaction.</summary>
    void Reserve(AddressReservation reservation);

    /// <summary>Drops the network's quarantined addresses whose time has passed, so they can be reserved again.</summary>
    int ForgetExpiredQuarantine(string network, DateTimeOffset now);

    /// <summary>Moves the lease's assigned addresses into quarantine until <paramref name="until"/>; returns how many.</summary>
    int Quarantine(LeaseId lease, DateTimeOffset until);

    /// <summary>The project's quota in force: its own settings over the default quota's (LeaseStore.Quotas.cs).</summary>
    ProjectQuota QuotaOf(string project);

    /// <summary>What the project's live leases (every state before ended or failed) hold together; no vCPU-milliseconds.</summary>
    ProjectUse LiveUseOf(string project);

    /// <summary>
    /// vCPU-milliseconds of the project's leases inside [<paramref name="from"/>, <paramref name="until"/>): each lease
    /// from its creation to its expiry, or, once ended or failed, to when it did (its last update), if earlier.
    /// </summary>
    long VcpuMillisecondsOf(string project, DateTimeOffset from, DateTimeOffset until);
}

/// <summary>The source of truth for leases: runs lease logic in transactions.</summary>
public interface ILeaseStore
{
    Task<T> WriteAsync<T>(Func<ILeaseSession, T> work, CancellationToken cancellationToken = default);

    T Read<T>(Func<ILeaseSession, T> work);
}

/// <summary>Leases in the scheduler's database, either engine.</summary>
public sealed partial class LeaseStore(IStoreDatabase database) : ILeaseStore
{
    /// <remarks>
    /// The hosts the work changed (what their leases hold, their desired-set version) go into <see cref="IStoreDatabase.Hosts"/> as the write is
    /// applied; what it left for <see cref="ILeaseSession.AfterCommit"/> runs once the write has committed.
    /// </remarks>
    public async Task<T> WriteAsync<T>(Func<ILeaseSession, T> work, CancellationToken cancellationToken = default)
    {
        var (result, _, committed) = await database.WriteAsync((connection, transaction) =>
        {
            var session = new Session(connection, transaction, database.Hosts, database.Sql, database.Quotas);
            var result = work(session);
            return (result, session.ChangedHosts(), session.Committed);
        }, written =>
        {
            foreach (var host in written.Item2)
            {
                database.Hosts.PutHeld(host);
            }
        }, cancellationToken);

        // The write's task completes once its batch has committed (on SQLite the cache is updated earlier, when its
        // savepoint is released, so the next write of the batch sees it); what the attempt that committed left runs now.
        foreach (var action in committed)
        {
            action();
        }

        return result;
    }

    public T Read<T>(Func<ILeaseSession, T> work) => database.Read(connection => work(new Session(connection, null, database.Hosts, database.Sql, null)));

    /// <param name="quotas">The writer's quota cache (in a write on SQLite), or null.</param>
    private sealed partial class Session(DbConnection connection, DbTransaction? transaction, HostCache hosts, SqlDialect sql, QuotaCache? quotas) : ILeaseSession
    {
        private List<Action>? _committed;

        /// <summary>What <see cref="AfterCommit"/> was given, in order.</summary>
        public IReadOnlyList<Action> Committed => _committed ?? [];

        public void AfterCommit(Action action)
        {
            ArgumentNullException.ThrowIfNull(action);
            if (transaction is null)
            {
                action();
                return;
            }

            (_committed ??= []).Add(action);
        }

        private const string Columns =
            "lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at, request_id, " +
            "power, reboots_requested, reboots_done, ssh_keys, " +
            "image_version, image_ref, data_disk_bytes, data_disk_total_bytes, disk_total_iops, disk_total_bytes_per_second, disk_allocated_bytes, disk_used_bytes, " +
            "save_generation, save_image_name, save_state, save_reason, save_image_version, save_requested_at, save_description, limits, " +
            "placement, anti_affinity_group, spread_group, kind, start_at, queued_at, run_ms, wanted_network, refused_by, project, group_id";

        // A write locks the lease it reads until it commits (on PostgreSQL): what it changes is what it read.
        public Lease? FindLease(LeaseId id) =>
            Query($"SELECT {Columns} FROM leases WHERE lease_id = @id{sql.LockRows(transaction)}", ("@id", id.Value)).SingleOrDefault();

        public Lease? FindByRequestId(string owner, string requestId) =>
            Query($"SELECT {Columns} FROM leases WHERE owner = @owner AND request_id = @rid{sql.LockRows(transaction)}", ("@owner", owner), ("@rid", requestId))
                .SingleOrDefault();

        public IReadOnlyList<Lease> ListLeases(bool includeEnded) => includeEnded
            ? Query($"SELECT {Columns} FROM leases ORDER BY created_at, lease_id")
            : Query($"SELECT {Columns} FROM leases WHERE state NOT IN ('ended', 'failed') ORDER BY created_at, lease_id");

        public IReadOnlyList<Lease> ListLeases(bool includeEnded, LeasePosition? after, int limit, string? project = null, string? group = null) => Query(
            $"SELECT {Columns} FROM leases WHERE (created_at, lease_id) > (@created, @id) {(includeEnded ? "" : "AND state NOT IN ('ended', 'failed')")} " +
            $"{(project is null ? "" : "AND project = @project")} {(group is null ? "" : "AND group_id = @group")} ORDER BY created_at, lease_id LIMIT @limit",
            ("@created", after?.CreatedAt.ToUnixTimeMilliseconds() ?? long.MinValue), ("@id", after?.Id.Value ?? string.Empty), ("@limit", limit),
            ("@project", project), ("@group", group));

        public IReadOnlyList<Lease> LiveLeasesOn(HostId host) =>
            Query($"SELECT {Columns} FROM leases WHERE host_id = @host AND state NOT IN ('ended', 'failed') ORDER BY lease_id", ("@host", host.Value));

        public IReadOnlyList<Lease> StoppingOn(HostId host) =>
            Query($"SELECT {Columns} FROM leases WHERE host_id = @host AND state = 'stopping' ORDER BY lease_id", ("@host", host.Value));

        public IReadOnlyList<Lease> DueForExpiry(DateTimeOffset now) =>
            Query($"SELECT {Columns} FROM leases WHERE state IN ('pending', 'placing', 'starting', 'running', 'stopped', 'paused') AND expires_at <= @now",
                ("@now", now.ToUnixTimeMilliseconds()));

        public void Insert(Lease lease)
        {
            VerifyClaim(lease, before: null);
            Execute(
                $"INSERT INTO leases ({Columns}) VALUES (@id, @owner, @image, @vcpus, @memory, @disk, @state, @reason, @host, @created, @expires, @updated, @rid, " +
                "@power, @reboots_requested, @reboots_done, @ssh_keys, " +
                "@image_version, @image_ref, @data_disks, @data_disk_total, @iops, @bps, @disk_allocated, @disk_used, " +
                "@save_generation, @save_image, @save_state, @save_reason, @save_version, @save_requested, @save_description, @limits, " +
                "@placement, @anti_affinity_group, @spread_group, @kind, @start_at, @queued_at, @run_ms, @wanted_network, @refused_by, @project, @group)",
                Parameters(lease));
            if (lease.QueuedAt is not null)
            {
                JoinQueue(lease.Id);
            }

            InsertNetworks(lease);
            if (!hosts.KeepsHoldings)
            {
                Touch(lease.Host);
            }

            // A lease inserted holding capacity (a placement) is in its host's desired set: a new version, as the
            // insert's trigger gives it on PostgreSQL.
            Count(lease.Host, lease, lease.State, +1);
            if (hosts.KeepsHoldings && lease.HoldsCapacity && lease.Host is { } host)
            {
                BumpDesiredVersion(host);
            }
        }

        public void Update(Lease lease)
        {
            // The host it leaves changes too: what the lease held there is freed (on PostgreSQL by the trigger of schema
            // step 17). An update never changes what a lease claims, only its state and host.
            var before = StoredClaim(lease.Id);
            VerifyClaim(lease, before);
            if (hosts.KeepsHoldings)
            {
                Count(before?.Host, lease, before?.State ?? LeaseState.Ended, -1);
                Count(lease.Host, lease, lease.State, +1);
            }
            else
            {
                Touch(before?.Host);
                Touch(lease.Host);
            }

            var changed = Execute(
                """
                UPDATE leases SET state = @state, reason = @reason, host_id = @host, expires_at = @expires, updated_at = @updated, run_ms = @run_ms, refused_by = @refused_by,
                    power = @power, reboots_requested = @reboots_requested, reboots_done = @reboots_done,
                    disk_allocated_bytes = @disk_allocated, disk_used_bytes = @disk_used,
                    save_generation = @save_generation, save_image_name = @save_image, save_state = @save_state, save_reason = @save_reason,
                    save_image_version = @save_version, save_requested_at = @save_requested, save_description = @save_description
                WHERE lease_id = @id
                """,
                Parameters(lease));
            if (changed != 1)
            {
                throw new StoreException($"lease {lease.Id} vanished from the database while it was updated");
            }
        }

        public IReadOnlyDictionary<HostId, int> GroupLeasesByHost(string group, bool antiAffinity)
        {
            // The column name is one of two constants, never input. A reservation counts on its host from its admission:
            // a lease placed meanwhile must not make it break its group's rule when it starts.
            var column = antiAffinity ? "anti_affinity_group" : "spread_group";
            sql.Serialize(connection, transaction, $"{column}:{group}");
            using var command = Command(
                $"SELECT host_id, CAST(COUNT(*) AS INTEGER) FROM leases WHERE {column} = @group AND host_id IS NOT NULL AND (state IN ({HostRows.Holding}) OR {Reserved}) GROUP BY host_id",
                ("@group", group));
            using var r = command.ExecuteReader();
            var counts = new Dictionary<HostId, int>();
            while (r.Read())
            {
                counts[HostId.Parse(r.GetString(0))] = r.GetInt32(1);
            }

            return counts;
        }

        private static (string, object?)[] Parameters(Lease lease) =>
        [
            ("@id", lease.Id.Value), ("@owner", lease.Owner), ("@image", lease.Image),
            ("@vcpus", lease.Resources.Vcpus), ("@memory", lease.Resources.MemoryBytes), ("@disk", lease.Resources.DiskBytes),
            ("@state", StateName(lease.State)), ("@reason", lease.Reason), ("@host", lease.Host?.Value),
            ("@created", lease.CreatedAt.ToUnixTimeMilliseconds()), ("@expires", lease.ExpiresAt.ToUnixTimeMilliseconds()),
            ("@updated", lease.UpdatedAt.ToUnixTimeMilliseconds()), ("@rid", lease.RequestId),
            ("@power", PowerName(lease.Power)), ("@reboots_requested", lease.RebootsRequested), ("@reboots_done", lease.RebootsDone),
            ("@ssh_keys", JsonSerializer.Serialize(lease.SshKeys.ToList(), StoreJson.Default.ListString)),
            ("@image_version", lease.ImageRef?.Version ?? 0), ("@image_ref", lease.ImageRef?.ToByteArray()),
            ("@data_disks", JsonSerializer.Serialize(lease.DataDiskBytes.ToList(), StoreJson.Default.ListInt64)),
            ("@data_disk_total", lease.DataDiskBytes.Sum()),
            ("@iops", lease.DiskLimits.TotalIops), ("@bps", lease.DiskLimits.TotalBytesPerSecond),
            ("@disk_allocated", lease.Disk.AllocatedBytes), ("@disk_used", lease.Disk.UsedBytes),
            ("@save_generation", lease.Save?.Generation ?? 0), ("@save_image", lease.Save?.ImageName ?? string.Empty),
            ("@save_state", lease.Save is { } save ? save.State.ToString().ToLowerInvariant() : string.Empty),
            ("@save_reason", lease.Save?.Reason ?? string.Empty), ("@save_version", lease.Save?.ImageVersion ?? 0),
            ("@save_requested", lease.Save?.RequestedAt.ToUnixTimeMilliseconds() ?? 0), ("@save_description", lease.Save?.Description ?? string.Empty),
            ("@limits", lease.Limits?.ToByteArray()),
            ("@placement", lease.Placement?.ToByteArray()),
            ("@anti_affinity_group", lease.Placement?.AntiAffinityGroup ?? string.Empty),
            ("@spread_group", lease.Placement?.SpreadGroup ?? string.Empty),
            ("@kind", LeaseKinds.StoredName(lease.Kind)), ("@start_at", lease.StartAt?.ToUnixTimeMilliseconds()),
            ("@queued_at", lease.QueuedAt?.ToUnixTimeMilliseconds()), ("@run_ms", (long)lease.RunFor.TotalMilliseconds),
            ("@wanted_network", lease.WantedNetwork ?? string.Empty),
            ("@refused_by", JsonSerializer.Serialize(lease.RefusedBy.ToList(), StoreJson.Default.ListString)),
            ("@project", lease.Project), ("@group", lease.Group),
        ];

        private List<Lease> Query(string text, params (string Name, object? Value)[] parameters)
        {
            var leases = new List<Lease>();

            // Read to the end and closed before WithNetworks runs its query: PostgreSQL runs one command at a time per connection.
            using (var command = Command(text, parameters))
            using (var r = command.ExecuteReader())
            {
                while (r.Read())
                {
                    leases.Add(ReadLease(r));
                }
            }

            return WithNetworks(leases);
        }

        private static Lease ReadLease(DbDataReader r) => new(
            LeaseId.Parse(r.GetString(0)),
            r.GetString(1),
            r.GetString(2),
            new Resources(r.GetInt32(3), r.GetInt64(4), r.GetInt64(5)),
            ParseState(r.GetString(6)),
            r.GetString(7),
            r.IsDBNull(8) ? null : HostId.Parse(r.GetString(8)),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9)),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(10)),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(11)),
            r.IsDBNull(12) ? null : r.GetString(12),
            ParsePower(r.GetString(13)),
            r.GetInt64(14),
            r.GetInt64(15))
        {
            SshKeys = new ValueList<string>(JsonSerializer.Deserialize(r.GetString(16), StoreJson.Default.ListString) ?? []),
            ImageRef = r.IsDBNull(18) ? null : Contract.V1.ImageRef.Parser.ParseFrom((byte[])r.GetValue(18)),
            DataDiskBytes = new ValueList<long>(JsonSerializer.Deserialize(r.GetString(19), StoreJson.Default.ListInt64) ?? []),
            DiskLimits = new DiskLimits(r.GetInt64(21), r.GetInt64(22)),
            Disk = new DiskUsage(r.GetInt64(23), r.GetInt64(24)),
            Save = r.GetInt64(25) == 0 ? null : new LeaseSave(
                r.GetString(26), r.GetInt64(25), ParseSaveState(r.GetString(27)), r.GetString(28), r.GetInt32(29),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(30)), r.GetString(31)),
            Limits = r.IsDBNull(32) ? null : Contract.V1.WorkspaceLimits.Parser.ParseFrom((byte[])r.GetValue(32)),
            Placement = r.IsDBNull(33) ? null : Contract.V1.PlacementConstraints.Parser.ParseFrom((byte[])r.GetValue(33)),
            Kind = LeaseKinds.ParseStored(r.GetString(36)) ?? throw new StoreException($"unknown lease kind '{r.GetString(36)}' in the database"),
            StartAt = r.IsDBNull(37) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(37)),
            QueuedAt = r.IsDBNull(38) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(38)),
            RunFor = TimeSpan.FromMilliseconds(r.GetInt64(39)),
            WantedNetwork = r.GetString(40).Length == 0 ? null : r.GetString(40),
            RefusedBy = new ValueList<string>(JsonSerializer.Deserialize(r.GetString(41), StoreJson.Default.ListString) ?? []),
            Project = r.GetString(42),
            Group = r.IsDBNull(43) ? null : r.GetString(43),
        };

        private int Execute(string text, params (string Name, object? Value)[] parameters) =>
            Sql.Execute(connection, transaction, text, parameters);

        private DbCommand Command(string text, params (string Name, object? Value)[] parameters) =>
            Sql.Command(connection, transaction, text, parameters);

        private static string StateName(LeaseState state) => state.ToString().ToLowerInvariant();

        private static string PowerName(PowerState power) => power.ToString().ToLowerInvariant();

        private static PowerState ParsePower(string text) =>
            Enum.TryParse<PowerState>(text, ignoreCase: true, out var power) ? power : throw new StoreException($"unknown power state '{text}' in the database");

        private static SaveState ParseSaveState(string text) =>
            Enum.TryParse<SaveState>(text, ignoreCase: true, out var state) ? state : throw new StoreException($"unknown save state '{text}' in the database");

        private static LeaseState ParseState(string text) =>
            Enum.TryParse<LeaseState>(text, ignoreCase: true, out var state) ? state : throw new StoreException($"unknown lease state '{text}' in the database");
    }
}
