using System.Data;
using Npgsql;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// The scheduler's schema on PostgreSQL, as an ordered list of steps recorded in <c>schema_migrations</c>, like
/// <see cref="Migrations"/> for SQLite: a released step is never edited, changes are new steps. Steps 1 to 13 build
/// what SQLite has after its step 24: the same tables, columns in the same order, defaults, CHECK, UNIQUE and
/// foreign-key constraints, indexes (partial ones included) and the held_* triggers. SQLite's step 25 is its own: alone
/// on its file, the scheduler keeps what leases hold on each host, how many stop and the desired versions in memory,
/// while replicas keep them here on the hosts' rows, where all their writes meet; so these steps follow SQLite to its
/// step 25 (<see cref="SqliteStep"/>) without one for it.
/// </summary>
/// <remarks>
/// Types: SQLite's INTEGER is 64-bit, so an INTEGER column is <c>bigint</c> here, except where the SQLite store reads
/// it with <c>GetInt32</c> (vCPU counts, lease_networks.prefix_length, usage's period and powered-on seconds,
/// leases.save_image_version, quotas' max_vcpus and max_workspaces): those are <c>integer</c>. The data source reads
/// each type exactly as stored (<see cref="PostgresDatabase"/>), so the PostgreSQL store must read with the same
/// methods. REAL is <c>double precision</c>, BLOB <c>bytea</c>, TEXT (JSON included) <c>text</c>.
/// <para>
/// Every replica applies the schema when it starts; <see cref="Apply(NpgsqlConnection)"/> does it in one transaction
/// under a transaction-scoped advisory lock, so replicas starting together apply each step once, in order, and the
/// others then find it done.
/// </para>
/// </remarks>
internal static class PostgresSchema
{
    /// <summary>The SQLite schema step (<see cref="Migrations.Latest"/>) these steps equal; a new SQLite step needs a new step here.</summary>
    public const int SqliteStep = 25;

    /// <summary>The key of the advisory lock schema changes take ("NodeAgnt" as a big-endian 64-bit integer); advisory locks are per database.</summary>
    public const long AdvisoryLockKey = 5651846443425033844;

    /// <summary>The lease states that hold capacity on their host, as stored (<see cref="Domain.Lease.CapacityHoldingStates"/>).</summary>
    private const string Holding = "'starting', 'running', 'stopped', 'paused', 'stopping'";

    private static readonly string[] Steps =
    [
        // 1: hosts, their last heartbeat, what foreign domains use on them, why they are degraded, the networks they
        // have a bridge for (JSON list), their admin state, and what their leases hold (kept by the triggers of step 6).
        """
        CREATE TABLE hosts (
            host_id text PRIMARY KEY,
            hostname text NOT NULL,
            agent_version text NOT NULL,
            architecture text NOT NULL,
            domain_type text NOT NULL,
            capacity_vcpus integer NOT NULL,
            capacity_memory_bytes bigint NOT NULL,
            capacity_disk_bytes bigint NOT NULL,
            labels text NOT NULL,
            features text NOT NULL,
            registered_at bigint NOT NULL,
            last_heartbeat_at bigint,
            load_cpu double precision NOT NULL DEFAULT 0,
            load_memory_available_bytes bigint NOT NULL DEFAULT 0,
            load_average_1m double precision NOT NULL DEFAULT 0,
            load_running_workspaces integer NOT NULL DEFAULT 0,
            desired_version bigint NOT NULL DEFAULT 0,
            foreign_vcpus integer NOT NULL DEFAULT 0,
            foreign_memory_bytes bigint NOT NULL DEFAULT 0,
            degraded_reason text NOT NULL DEFAULT '',
            networks text NOT NULL DEFAULT '[]',
            admin_state text NOT NULL DEFAULT 'enabled'
                CHECK (admin_state IN ('enabled', 'disabled', 'draining', 'drained', 'drain-failed')),
            admin_reason text NOT NULL DEFAULT '',
            drain_deadline bigint,
            admin_since bigint NOT NULL DEFAULT 0,
            admin_by text NOT NULL DEFAULT '',
            held_vcpus integer NOT NULL DEFAULT 0,
            held_memory_bytes bigint NOT NULL DEFAULT 0,
            held_disk_bytes bigint NOT NULL DEFAULT 0
        );
        """,

        // 2: leases (SQLite steps 2, 5, 6, 8, 9, 12, 15 and 16), their NICs, and the address reservations of every network.
        // The UNIQUE constraints of addresses make a duplicate address or MAC impossible, whichever replica writes it;
        // its lease reference is checked at commit, so a placement can reserve the address before it writes the lease.
        """
        CREATE TABLE leases (
            lease_id text PRIMARY KEY,
            owner text NOT NULL,
            image text NOT NULL,
            vcpus integer NOT NULL,
            memory_bytes bigint NOT NULL,
            disk_bytes bigint NOT NULL,
            state text NOT NULL,
            reason text NOT NULL DEFAULT '',
            host_id text REFERENCES hosts (host_id),
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            request_id text,
            power text NOT NULL DEFAULT 'running',
            reboots_requested bigint NOT NULL DEFAULT 0,
            reboots_done bigint NOT NULL DEFAULT 0,
            ssh_keys text NOT NULL DEFAULT '[]',
            image_version bigint NOT NULL DEFAULT 0,
            image_ref bytea,
            data_disk_bytes text NOT NULL DEFAULT '[]',
            data_disk_total_bytes bigint NOT NULL DEFAULT 0,
            disk_total_iops bigint NOT NULL DEFAULT 0,
            disk_total_bytes_per_second bigint NOT NULL DEFAULT 0,
            disk_allocated_bytes bigint NOT NULL DEFAULT 0,
            disk_used_bytes bigint NOT NULL DEFAULT 0,
            save_generation bigint NOT NULL DEFAULT 0,
            save_image_name text NOT NULL DEFAULT '',
            save_state text NOT NULL DEFAULT '',
            save_reason text NOT NULL DEFAULT '',
            save_image_version integer NOT NULL DEFAULT 0,
            save_requested_at bigint NOT NULL DEFAULT 0,
            save_description text NOT NULL DEFAULT '',
            limits bytea,
            placement bytea,
            anti_affinity_group text NOT NULL DEFAULT '',
            spread_group text NOT NULL DEFAULT '',
            kind text NOT NULL DEFAULT 'immediate' CHECK (kind IN ('immediate', 'best_effort', 'reservation')),
            start_at bigint,
            queued_at bigint,
            queue_seq bigint,
            run_ms bigint NOT NULL DEFAULT 0,
            wanted_network text NOT NULL DEFAULT '',
            refused_by text NOT NULL DEFAULT '[]',
            UNIQUE (owner, request_id)
        );
        CREATE INDEX leases_by_host ON leases (host_id, state);
        CREATE INDEX leases_by_expiry ON leases (state, expires_at);
        CREATE INDEX leases_by_anti_affinity_group ON leases (anti_affinity_group) WHERE anti_affinity_group <> '';
        CREATE INDEX leases_by_spread_group ON leases (spread_group) WHERE spread_group <> '';
        CREATE INDEX leases_waiting ON leases (kind, start_at, queue_seq) WHERE state = 'pending';
        CREATE UNIQUE INDEX leases_by_queue_seq ON leases (queue_seq) WHERE queue_seq IS NOT NULL;
        CREATE TABLE lease_networks (
            lease_id text NOT NULL REFERENCES leases (lease_id),
            position bigint NOT NULL,
            network text NOT NULL,
            mac text NOT NULL,
            address text NOT NULL,
            prefix_length integer NOT NULL,
            gateway text NOT NULL,
            dns_servers text NOT NULL,
            PRIMARY KEY (lease_id, position)
        );
        CREATE TABLE addresses (
            network text NOT NULL,
            address text NOT NULL,
            lease_id text NOT NULL REFERENCES leases (lease_id) DEFERRABLE INITIALLY DEFERRED,
            mac text NOT NULL,
            state text NOT NULL CHECK (state IN ('assigned', 'quarantined')),
            quarantined_until bigint,
            CHECK ((state = 'assigned') = (quarantined_until IS NULL)),
            UNIQUE (network, address),
            UNIQUE (mac)
        );
        CREATE INDEX addresses_by_lease ON addresses (lease_id);
        """,

        // 3: the image catalogue (SQLite step 7). Nothing is ever deleted: a retired version keeps its row.
        """
        CREATE TABLE images (
            name text NOT NULL,
            version bigint NOT NULL CHECK (version >= 1),
            format text NOT NULL CHECK (format IN ('qcow2', 'raw', 'kernel', 'initrd')),
            size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
            sha256 text NOT NULL,
            url text NOT NULL,
            owner text NOT NULL,
            state text NOT NULL CHECK (state IN ('active', 'retired')),
            kernel text,
            initrd text,
            kernel_cmdline text NOT NULL DEFAULT '',
            description text NOT NULL DEFAULT '',
            saved_from_lease text NOT NULL DEFAULT '',
            created_at bigint NOT NULL,
            retired_at bigint,
            CHECK ((state = 'active') = (retired_at IS NULL)),
            PRIMARY KEY (name, version)
        );
        CREATE INDEX images_by_sha256 ON images (sha256);
        """,

        // 4: metered usage, keyed by (host, journal epoch, sequence), and how far each (host, epoch) is acknowledged
        // (SQLite steps 10 and 11). journal_epoch holds the unsigned 64-bit epoch as the signed integer of the same bits.
        """
        CREATE TABLE usage (
            host_id text NOT NULL,
            journal_epoch bigint NOT NULL DEFAULT 0,
            sequence bigint NOT NULL CHECK (sequence >= 1),
            lease_id text NOT NULL,
            owner text NOT NULL,
            project text NOT NULL,
            period_start bigint NOT NULL,
            period_seconds integer NOT NULL CHECK (period_seconds BETWEEN 1 AND 3600),
            cpu_seconds double precision NOT NULL CHECK (cpu_seconds >= 0),
            vcpu_seconds double precision NOT NULL CHECK (vcpu_seconds >= 0),
            memory_bytes bigint NOT NULL CHECK (memory_bytes >= 0),
            memory_resident_bytes bigint NOT NULL CHECK (memory_resident_bytes >= 0),
            net_rx_bytes bigint NOT NULL CHECK (net_rx_bytes >= 0),
            net_tx_bytes bigint NOT NULL CHECK (net_tx_bytes >= 0),
            net_rx_packets bigint NOT NULL CHECK (net_rx_packets >= 0),
            net_tx_packets bigint NOT NULL CHECK (net_tx_packets >= 0),
            disk_read_bytes bigint NOT NULL CHECK (disk_read_bytes >= 0),
            disk_write_bytes bigint NOT NULL CHECK (disk_write_bytes >= 0),
            disk_read_ops bigint NOT NULL CHECK (disk_read_ops >= 0),
            disk_write_ops bigint NOT NULL CHECK (disk_write_ops >= 0),
            powered_on_seconds integer NOT NULL CHECK (powered_on_seconds >= 0),
            received_at bigint NOT NULL,
            PRIMARY KEY (host_id, journal_epoch, sequence)
        );
        CREATE INDEX usage_by_owner ON usage (owner, period_start);
        CREATE INDEX usage_by_project ON usage (project, period_start);
        CREATE INDEX usage_by_lease ON usage (lease_id);
        CREATE TABLE usage_acknowledged (
            host_id text NOT NULL,
            journal_epoch bigint NOT NULL DEFAULT 0,
            sequence bigint NOT NULL CHECK (sequence >= 0),
            PRIMARY KEY (host_id, journal_epoch)
        );
        """,

        // 5: per-project quotas (SQLite step 14; docs/quotas.md), the default quota under the project '*'.
        """
        CREATE TABLE quotas (
            project text PRIMARY KEY,
            max_vcpus integer CHECK (max_vcpus >= 0),
            max_memory_bytes bigint CHECK (max_memory_bytes >= 0),
            max_workspaces integer CHECK (max_workspaces >= 0),
            core_hours_budget double precision CHECK (core_hours_budget >= 0),
            period_seconds bigint CHECK (period_seconds >= 0),
            max_lease_seconds bigint CHECK (max_lease_seconds >= 0),
            updated_at bigint NOT NULL,
            updated_by text NOT NULL,
            CHECK ((core_hours_budget IS NULL) = (period_seconds IS NULL)),
            CHECK (core_hours_budget = 0 OR period_seconds > 0)
        );
        """,

        // 6: what the leases on a host hold, kept on the host's row by triggers, as SQLite step 17 does: a lease holds its
        // vCPUs, memory and disks (root and data) while starting, running, stopped, paused or stopping. The update
        // trigger fires on the same columns; it takes off what the old row held and adds what the new row holds.
        // A placement adds nothing to held_* itself: the lease it writes is counted here, once. The first
        // UPDATE counts the leases already there, as SQLite's step 17 does (none, on a database new with this step).
        $"""
        UPDATE hosts SET
            held_vcpus = (SELECT COALESCE(SUM(vcpus), 0) FROM leases l WHERE l.host_id = hosts.host_id AND l.state IN ({Holding})),
            held_memory_bytes = (SELECT COALESCE(SUM(memory_bytes), 0) FROM leases l WHERE l.host_id = hosts.host_id AND l.state IN ({Holding})),
            held_disk_bytes = (SELECT COALESCE(SUM(disk_bytes + data_disk_total_bytes), 0) FROM leases l
                               WHERE l.host_id = hosts.host_id AND l.state IN ({Holding}));

        CREATE FUNCTION leases_hold_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes
            WHERE host_id = NEW.host_id;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_hold_on_insert AFTER INSERT ON leases FOR EACH ROW
        WHEN (NEW.host_id IS NOT NULL AND NEW.state IN ({Holding}))
        EXECUTE FUNCTION leases_hold_on_insert();

        CREATE FUNCTION leases_hold_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus - OLD.vcpus, held_memory_bytes = held_memory_bytes - OLD.memory_bytes,
                held_disk_bytes = held_disk_bytes - OLD.disk_bytes - OLD.data_disk_total_bytes
            WHERE host_id = OLD.host_id AND OLD.state IN ({Holding});
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes
            WHERE host_id = NEW.host_id AND NEW.state IN ({Holding});
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_hold_on_update AFTER UPDATE OF state, host_id, vcpus, memory_bytes, disk_bytes, data_disk_total_bytes ON leases
        FOR EACH ROW EXECUTE FUNCTION leases_hold_on_update();

        CREATE FUNCTION leases_hold_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus - OLD.vcpus, held_memory_bytes = held_memory_bytes - OLD.memory_bytes,
                held_disk_bytes = held_disk_bytes - OLD.disk_bytes - OLD.data_disk_total_bytes
            WHERE host_id = OLD.host_id;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_hold_on_delete AFTER DELETE ON leases FOR EACH ROW
        WHEN (OLD.host_id IS NOT NULL AND OLD.state IN ({Holding}))
        EXECUTE FUNCTION leases_hold_on_delete();
        """,

        // 7: leases listed a page at a time, oldest first (SQLite step 18).
        """
        CREATE INDEX leases_by_creation ON leases (created_at, lease_id);
        """,

        // 8: which scheduler replica runs the background duties, until when (Unix ms) (SQLite step 19).
        """
        CREATE TABLE leadership (
            duty text PRIMARY KEY,
            holder text NOT NULL,
            held_until bigint NOT NULL
        );
        """,

        // 9: how many leases on a host are stopping, kept on the host's row by triggers (SQLite step 20).
        """
        ALTER TABLE hosts ADD COLUMN stopping_leases integer NOT NULL DEFAULT 0;
        UPDATE hosts SET stopping_leases = (SELECT COUNT(*) FROM leases l WHERE l.host_id = hosts.host_id AND l.state = 'stopping');

        CREATE FUNCTION leases_stopping_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases + 1 WHERE host_id = NEW.host_id;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_stopping_on_insert AFTER INSERT ON leases FOR EACH ROW
        WHEN (NEW.host_id IS NOT NULL AND NEW.state = 'stopping')
        EXECUTE FUNCTION leases_stopping_on_insert();

        CREATE FUNCTION leases_stopping_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases - 1 WHERE host_id = OLD.host_id AND OLD.state = 'stopping';
            UPDATE hosts SET stopping_leases = stopping_leases + 1 WHERE host_id = NEW.host_id AND NEW.state = 'stopping';
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_stopping_on_update AFTER UPDATE OF state, host_id ON leases
        FOR EACH ROW EXECUTE FUNCTION leases_stopping_on_update();

        CREATE FUNCTION leases_stopping_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases - 1 WHERE host_id = OLD.host_id;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER leases_stopping_on_delete AFTER DELETE ON leases FOR EACH ROW
        WHEN (OLD.host_id IS NOT NULL AND OLD.state = 'stopping')
        EXECUTE FUNCTION leases_stopping_on_delete();
        """,

        // 10: the project a lease counts in, and the API's bearer tokens (SQLite step 21).
        """
        ALTER TABLE leases ADD COLUMN project text NOT NULL DEFAULT '';
        UPDATE leases SET project = owner;
        CREATE INDEX leases_by_project ON leases (project, created_at, lease_id);
        CREATE TABLE tokens (
            token_id text PRIMARY KEY,
            secret_sha256 bytea NOT NULL,
            user_name text NOT NULL,
            project text NOT NULL,
            role text NOT NULL CHECK (role IN ('user', 'admin', 'agent')),
            host_id text NOT NULL,
            description text NOT NULL,
            created_at bigint NOT NULL,
            created_by text NOT NULL,
            expires_at bigint,
            revoked_at bigint,
            revoked_by text NOT NULL DEFAULT ''
        );
        """,

        // 11: secrets every replica shares (SQLite step 22).
        """
        CREATE TABLE secrets (
            name text PRIMARY KEY,
            value bytea NOT NULL
        );
        """,

        // 12: the group a lease was made in (SQLite step 23).
        """
        ALTER TABLE leases ADD COLUMN group_id text;
        CREATE INDEX leases_by_group ON leases (group_id, created_at, lease_id) WHERE group_id IS NOT NULL;
        """,

        // 13: the insert of a lease holding capacity also bumps its host's desired version (SQLite step 24).
        """
        CREATE OR REPLACE FUNCTION leases_hold_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes, desired_version = desired_version + 1
            WHERE host_id = NEW.host_id;
            RETURN NULL;
        END
        $$;
        """,
    ];

    public static int Latest => Steps.Length;

    public static void Apply(NpgsqlConnection connection) => Apply(connection, Steps.Length);

    /// <summary>
    /// Brings the schema up to step <paramref name="target"/> in one transaction, under the advisory lock: a replica that
    /// waited for it finds the steps recorded and applies none.
    /// </summary>
    internal static void Apply(NpgsqlConnection connection, int target)
    {
        // READ COMMITTED (Npgsql's default too, said here because Apply depends on it): a replica that waited for the lock
        // must read schema_migrations as the replica before it committed it, not as it was when this transaction began.
        using var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            command.Parameters.AddWithValue("key", AdvisoryLockKey);
            command.ExecuteNonQuery();
        }

        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at text NOT NULL)");
        var current = CurrentVersion(connection, transaction);
        if (current > Steps.Length)
        {
            throw new StoreException(
                $"the PostgreSQL database is at schema version {current}, newer than this scheduler knows ({Steps.Length}); run a newer scheduler");
        }

        for (var version = current + 1; version <= Math.Min(target, Steps.Length); version++)
        {
            Execute(connection, transaction, Steps[version - 1]);
            // The server's clock, not this replica's: the record says when the database changed.
            using var record = new NpgsqlCommand(
                """
                INSERT INTO schema_migrations (version, applied_at)
                VALUES (@version, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                """,
                connection, transaction);
            record.Parameters.AddWithValue("version", version);
            record.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public static int CurrentVersion(NpgsqlConnection connection, NpgsqlTransaction? transaction = null)
    {
        using var command = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection, transaction);
        return (int)command.ExecuteScalar()!;
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }
}
