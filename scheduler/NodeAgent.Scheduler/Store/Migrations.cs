using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// The schema, as an ordered list of steps. A step is never edited once released: changes are new steps.
/// Each database records which steps it has, so any older file upgrades in place on start.
/// </summary>
internal static partial class Migrations
{
    private static readonly string[] Steps =
    [
        // 1: hosts and their last heartbeat.
        """
        CREATE TABLE hosts (
            host_id TEXT PRIMARY KEY,
            hostname TEXT NOT NULL,
            agent_version TEXT NOT NULL,
            architecture TEXT NOT NULL,
            domain_type TEXT NOT NULL,
            capacity_vcpus INTEGER NOT NULL,
            capacity_memory_bytes INTEGER NOT NULL,
            capacity_disk_bytes INTEGER NOT NULL,
            labels TEXT NOT NULL,
            features TEXT NOT NULL,
            registered_at INTEGER NOT NULL,
            last_heartbeat_at INTEGER,
            load_cpu REAL NOT NULL DEFAULT 0,
            load_memory_available_bytes INTEGER NOT NULL DEFAULT 0,
            load_average_1m REAL NOT NULL DEFAULT 0,
            load_running_workspaces INTEGER NOT NULL DEFAULT 0,
            desired_version INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        """,

        // 2: leases. A lease holds capacity on its host while starting, running or stopping.
        """
        CREATE TABLE leases (
            lease_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            image TEXT NOT NULL,
            vcpus INTEGER NOT NULL,
            memory_bytes INTEGER NOT NULL,
            disk_bytes INTEGER NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            host_id TEXT REFERENCES hosts (host_id),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            request_id TEXT,
            UNIQUE (owner, request_id)
        ) STRICT;
        CREATE INDEX leases_by_host ON leases (host_id, state);
        CREATE INDEX leases_by_expiry ON leases (state, expires_at);
        """,

        // 3: what running domains that NodeAgent did not create use on each host.
        """
        ALTER TABLE hosts ADD COLUMN foreign_vcpus INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN foreign_memory_bytes INTEGER NOT NULL DEFAULT 0;
        """,

        // 4: why a host that heartbeats cannot take new work (empty: it can).
        """
        ALTER TABLE hosts ADD COLUMN degraded_reason TEXT NOT NULL DEFAULT '';
        """,

        // 5: the power state a lease's owner wants, and the reboots asked for and carried out. Existing leases
        // want to run and have had no reboots. Stopped and paused leases hold capacity like running ones.
        """
        ALTER TABLE leases ADD COLUMN power TEXT NOT NULL DEFAULT 'running';
        ALTER TABLE leases ADD COLUMN reboots_requested INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN reboots_done INTEGER NOT NULL DEFAULT 0;
        """,

        // 6: networks. Hosts announce the networks they have a bridge for (JSON list); a lease keeps its SSH keys
        // (JSON list) and its NICs as assigned at placement, also after it ends. addresses holds each address in
        // use by a live lease or in quarantine after one; its UNIQUE constraints make a duplicate address or MAC
        // impossible even by mistake. Its lease reference is checked at commit, so a placement can reserve the
        // address before it writes the lease. Existing hosts have no networks, existing leases no NICs or keys.
        """
        ALTER TABLE hosts ADD COLUMN networks TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE leases ADD COLUMN ssh_keys TEXT NOT NULL DEFAULT '[]';
        CREATE TABLE lease_networks (
            lease_id TEXT NOT NULL REFERENCES leases (lease_id),
            position INTEGER NOT NULL,
            network TEXT NOT NULL,
            mac TEXT NOT NULL,
            address TEXT NOT NULL,
            prefix_length INTEGER NOT NULL,
            gateway TEXT NOT NULL,
            dns_servers TEXT NOT NULL,
            PRIMARY KEY (lease_id, position)
        ) STRICT;
        CREATE TABLE addresses (
            network TEXT NOT NULL,
            address TEXT NOT NULL,
            lease_id TEXT NOT NULL REFERENCES leases (lease_id) DEFERRABLE INITIALLY DEFERRED,
            mac TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('assigned', 'quarantined')),
            quarantined_until INTEGER,
            CHECK ((state = 'assigned') = (quarantined_until IS NULL)),
            UNIQUE (network, address),
            UNIQUE (mac)
        ) STRICT;
        CREATE INDEX addresses_by_lease ON addresses (lease_id);
        """,

        // 7: the image catalogue. An image is (name, version); the primary key makes two images with one version
        // impossible, so concurrent adds of a name cannot collide. kernel and initrd are exact "NAME:VERSION"
        // references, fixed when the image was added (NULL: none). Nothing is ever deleted: a retired version
        // keeps its row, because leases and saved images made with it still point at it.
        """
        CREATE TABLE images (
            name TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            format TEXT NOT NULL CHECK (format IN ('qcow2', 'raw', 'kernel', 'initrd')),
            size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
            sha256 TEXT NOT NULL,
            url TEXT NOT NULL,
            owner TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
            kernel TEXT,
            initrd TEXT,
            kernel_cmdline TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            saved_from_lease TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            retired_at INTEGER,
            CHECK ((state = 'active') = (retired_at IS NULL)),
            PRIMARY KEY (name, version)
        ) STRICT;
        CREATE INDEX images_by_sha256 ON images (sha256);
        """,

        // 8: a lease's disks and saves. image_ref is the catalogue version the lease was made with, as the
        // protobuf-encoded nodeagent.v1.ImageRef (NULL for leases from before the catalogue); data disks are a
        // JSON list of sizes, and their total is kept beside it so a host's allocation stays one SUM. The
        // latest save asked for is the save_* columns (save_generation 0: none). Existing leases have no data
        // disks, no limits, no usage reported yet, and no save.
        """
        ALTER TABLE leases ADD COLUMN image_version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN image_ref BLOB;
        ALTER TABLE leases ADD COLUMN data_disk_bytes TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE leases ADD COLUMN data_disk_total_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN disk_total_iops INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN disk_total_bytes_per_second INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN disk_allocated_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN disk_used_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN save_generation INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN save_image_name TEXT NOT NULL DEFAULT '';
        ALTER TABLE leases ADD COLUMN save_state TEXT NOT NULL DEFAULT '';
        ALTER TABLE leases ADD COLUMN save_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE leases ADD COLUMN save_image_version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN save_requested_at INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN save_description TEXT NOT NULL DEFAULT '';
        """,

        // 9: a lease's CPU weight and cap, hard memory limit and NIC bandwidth, as the protobuf-encoded
        // nodeagent.v1.WorkspaceLimits (NULL: the host's defaults, as for every existing lease).
        """
        ALTER TABLE leases ADD COLUMN limits BLOB;
        """,

        // 10: metered usage as agents ship it, one row per (host, sequence) so a resent record is stored once;
        // period_start is Unix nanoseconds. usage_acknowledged holds, per host, the highest sequence up to
        // which every record the host sent is stored (what ReportUsage answers).
        """
        CREATE TABLE usage (
            host_id TEXT NOT NULL,
            sequence INTEGER NOT NULL CHECK (sequence >= 1),
            lease_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            project TEXT NOT NULL,
            period_start INTEGER NOT NULL,
            period_seconds INTEGER NOT NULL CHECK (period_seconds BETWEEN 1 AND 3600),
            cpu_seconds REAL NOT NULL CHECK (cpu_seconds >= 0),
            vcpu_seconds REAL NOT NULL CHECK (vcpu_seconds >= 0),
            memory_bytes INTEGER NOT NULL CHECK (memory_bytes >= 0),
            memory_resident_bytes INTEGER NOT NULL CHECK (memory_resident_bytes >= 0),
            net_rx_bytes INTEGER NOT NULL CHECK (net_rx_bytes >= 0),
            net_tx_bytes INTEGER NOT NULL CHECK (net_tx_bytes >= 0),
            net_rx_packets INTEGER NOT NULL CHECK (net_rx_packets >= 0),
            net_tx_packets INTEGER NOT NULL CHECK (net_tx_packets >= 0),
            disk_read_bytes INTEGER NOT NULL CHECK (disk_read_bytes >= 0),
            disk_write_bytes INTEGER NOT NULL CHECK (disk_write_bytes >= 0),
            disk_read_ops INTEGER NOT NULL CHECK (disk_read_ops >= 0),
            disk_write_ops INTEGER NOT NULL CHECK (disk_write_ops >= 0),
            powered_on_seconds INTEGER NOT NULL CHECK (powered_on_seconds >= 0),
            received_at INTEGER NOT NULL,
            PRIMARY KEY (host_id, sequence)
        ) STRICT;
        CREATE INDEX usage_by_owner ON usage (owner, period_start);
        CREATE INDEX usage_by_project ON usage (project, period_start);
        CREATE INDEX usage_by_lease ON usage (lease_id);
        CREATE TABLE usage_acknowledged (
            host_id TEXT PRIMARY KEY,
            sequence INTEGER NOT NULL CHECK (sequence >= 0)
        ) STRICT;
        """,

        // 11: usage is keyed by (host, journal epoch, sequence) and acknowledged per (host, journal epoch): an agent
        // whose journal was lost numbers its new one from 1 under a new random epoch, and those records are not
        // resends. journal_epoch holds the unsigned 64-bit epoch as the signed integer of the same bits; existing rows
        // are epoch 0 (journals from before epochs keep 0). SQLite cannot change a primary key, so both tables are
        // rebuilt: create the new one, copy, drop the old, rename, recreate the indexes. No other table, view or
        // trigger refers to them.
        """
        CREATE TABLE usage_new (
            host_id TEXT NOT NULL,
            journal_epoch INTEGER NOT NULL DEFAULT 0,
            sequence INTEGER NOT NULL CHECK (sequence >= 1),
            lease_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            project TEXT NOT NULL,
            period_start INTEGER NOT NULL,
            period_seconds INTEGER NOT NULL CHECK (period_seconds BETWEEN 1 AND 3600),
            cpu_seconds REAL NOT NULL CHECK (cpu_seconds >= 0),
            vcpu_seconds REAL NOT NULL CHECK (vcpu_seconds >= 0),
            memory_bytes INTEGER NOT NULL CHECK (memory_bytes >= 0),
            memory_resident_bytes INTEGER NOT NULL CHECK (memory_resident_bytes >= 0),
            net_rx_bytes INTEGER NOT NULL CHECK (net_rx_bytes >= 0),
            net_tx_bytes INTEGER NOT NULL CHECK (net_tx_bytes >= 0),
            net_rx_packets INTEGER NOT NULL CHECK (net_rx_packets >= 0),
            net_tx_packets INTEGER NOT NULL CHECK (net_tx_packets >= 0),
            disk_read_bytes INTEGER NOT NULL CHECK (disk_read_bytes >= 0),
            disk_write_bytes INTEGER NOT NULL CHECK (disk_write_bytes >= 0),
            disk_read_ops INTEGER NOT NULL CHECK (disk_read_ops >= 0),
            disk_write_ops INTEGER NOT NULL CHECK (disk_write_ops >= 0),
            powered_on_seconds INTEGER NOT NULL CHECK (powered_on_seconds >= 0),
            received_at INTEGER NOT NULL,
            PRIMARY KEY (host_id, journal_epoch, sequence)
        ) STRICT;
        INSERT INTO usage_new (host_id, journal_epoch, sequence, lease_id, owner, project, period_start, period_seconds, cpu_seconds,
                               vcpu_seconds, memory_bytes, memory_resident_bytes, net_rx_bytes, net_tx_bytes, net_rx_packets,
                               net_tx_packets, disk_read_bytes, disk_write_bytes, disk_read_ops, disk_write_ops, powered_on_seconds,
                               received_at)
        SELECT host_id, 0, sequence, lease_id, owner, project, period_start, period_seconds, cpu_seconds, vcpu_seconds, memory_bytes,
               memory_resident_bytes, net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets, disk_read_bytes, disk_write_bytes,
               disk_read_ops, disk_write_ops, powered_on_seconds, received_at
        FROM usage;
        DROP TABLE usage;
        ALTER TABLE usage_new RENAME TO usage;
        CREATE INDEX usage_by_owner ON usage (owner, period_start);
        CREATE INDEX usage_by_project ON usage (project, period_start);
        CREATE INDEX usage_by_lease ON usage (lease_id);
        CREATE TABLE usage_acknowledged_new (
            host_id TEXT NOT NULL,
            journal_epoch INTEGER NOT NULL DEFAULT 0,
            sequence INTEGER NOT NULL CHECK (sequence >= 0),
            PRIMARY KEY (host_id, journal_epoch)
        ) STRICT;
        INSERT INTO usage_acknowledged_new (host_id, journal_epoch, sequence) SELECT host_id, 0, sequence FROM usage_acknowledged;
        DROP TABLE usage_acknowledged;
        ALTER TABLE usage_acknowledged_new RENAME TO usage_acknowledged;
        """,

        // 12: a lease's placement constraints, as the protobuf-encoded nodeagent.v1.PlacementConstraints (NULL:
        // none), and its two groups as columns, so placement counts a group's live leases per host in one query.
        """
        ALTER TABLE leases ADD COLUMN placement BLOB;
        ALTER TABLE leases ADD COLUMN anti_affinity_group TEXT NOT NULL DEFAULT '';
        ALTER TABLE leases ADD COLUMN spread_group TEXT NOT NULL DEFAULT '';
        CREATE INDEX leases_by_anti_affinity_group ON leases (anti_affinity_group) WHERE anti_affinity_group != '';
        CREATE INDEX leases_by_spread_group ON leases (spread_group) WHERE spread_group != '';
        """,

        // 13: a host's admin state: enabled, disabled, draining, drained or drain-failed, with the operator's reason
        // (or why a drain failed), the drain's deadline (NULL: none), since when (Unix milliseconds) and who changed
        // it. Existing hosts are enabled, as they were, since their registration.
        """
        ALTER TABLE hosts ADD COLUMN admin_state TEXT NOT NULL DEFAULT 'enabled'
            CHECK (admin_state IN ('enabled', 'disabled', 'draining', 'drained', 'drain-failed'));
        ALTER TABLE hosts ADD COLUMN admin_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE hosts ADD COLUMN drain_deadline INTEGER;
        ALTER TABLE hosts ADD COLUMN admin_since INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN admin_by TEXT NOT NULL DEFAULT '';
        UPDATE hosts SET admin_since = registered_at;
        """,

        // 14: per-project quotas (docs/quotas.md). One row per project with settings of its own, and the default
        // quota under the project '*' (never a valid project id). NULL leaves a limit to the default (the default:
        // unlimited); 0 is unlimited, set explicitly. A core-hours budget and its period are set together, periods
        // and durations in whole seconds. Existing leases count against quotas as they are: no row exists, so
        // nothing is limited until an admin sets a quota.
        """
        CREATE TABLE quotas (
            project TEXT PRIMARY KEY,
            max_vcpus INTEGER CHECK (max_vcpus >= 0),
            max_memory_bytes INTEGER CHECK (max_memory_bytes >= 0),
            max_workspaces INTEGER CHECK (max_workspaces >= 0),
            core_hours_budget REAL CHECK (core_hours_budget >= 0),
            period_seconds INTEGER CHECK (period_seconds >= 0),
            max_lease_seconds INTEGER CHECK (max_lease_seconds >= 0),
            updated_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            CHECK ((core_hours_budget IS NULL) = (period_seconds IS NULL)),
            CHECK (core_hours_budget = 0 OR period_seconds > 0)
        ) STRICT;
        """,

        // 15: the three lease kinds. kind is how a lease waits when no host can take it; start_at is a reservation's
        // start (Unix ms; its window ends at expires_at); queued_at is when a best-effort lease joined the queue and
        // queue_seq its place in arrival order (1 + the highest so far: leases queued in one millisecond keep their
        // order); run_ms is how long the workspace runs once placed (a queued lease's expires_at is when it gives up);
        // wanted_network is the network it joins once placed ('' for none). A pending lease with a host_id is a
        // reservation on that host: it holds no capacity until it starts. Existing leases are immediate and keep
        // their end, so their run time is what they had.
        """
        ALTER TABLE leases ADD COLUMN kind TEXT NOT NULL DEFAULT 'immediate' CHECK (kind IN ('immediate', 'best_effort', 'reservation'));
        ALTER TABLE leases ADD COLUMN start_at INTEGER;
        ALTER TABLE leases ADD COLUMN queued_at INTEGER;
        ALTER TABLE leases ADD COLUMN queue_seq INTEGER;
        ALTER TABLE leases ADD COLUMN run_ms INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE leases ADD COLUMN wanted_network TEXT NOT NULL DEFAULT '';
        UPDATE leases SET run_ms = expires_at - created_at;
        CREATE INDEX leases_waiting ON leases (kind, start_at, queue_seq) WHERE state = 'pending';
        CREATE UNIQUE INDEX leases_by_queue_seq ON leases (queue_seq) WHERE queue_seq IS NOT NULL;
        """,

        // 16: the hosts whose agents refused a lease's workspace (a JSON list of host ids): placement never picks them
        // for that lease again.
        """
        ALTER TABLE leases ADD COLUMN refused_by TEXT NOT NULL DEFAULT '[]';
        """,

        // 17 to 20: Migrations.Scale.cs.
        .. ScaleSteps,

        // 21 to 24: Migrations.Security.cs.
        .. SecuritySteps,

        // 25 and on: Migrations.Holdings.cs.
        .. HoldingsSteps,
    ];

    public static int Latest => Steps.Length;

    public static void Apply(SqliteConnection connection) => Apply(connection, Steps.Length);

    /// <summary>Brings the schema up to step <paramref name="target"/> (tests build older databases with it).</summary>
    internal static void Apply(SqliteConnection connection, int target)
    {
        SqliteDatabase.Execute(connection, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT;");
        var current = CurrentVersion(connection);
        if (current > Steps.Length)
        {
            throw new StoreException($"the database is at schema version {current}, newer than this scheduler knows ({Steps.Length}); run a newer scheduler");
        }

        for (var version = current + 1; version <= Math.Min(target, Steps.Length); version++)
        {
            using var transaction = connection.BeginTransaction();
            SqliteDatabase.Execute(connection, Steps[version - 1], transaction);
            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO schema_migrations (version, applied_at) VALUES ($v, $at)";
            record.Parameters.AddWithValue("$v", version);
            record.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            record.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    public static int CurrentVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
