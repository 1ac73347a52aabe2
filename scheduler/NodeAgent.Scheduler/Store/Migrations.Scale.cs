namespace NodeAgent.Scheduler.Store;

/// <summary>Schema steps 17 to 20: what a cluster of 10,000 hosts and 100,000 leases needs (docs/scale.md).</summary>
internal static partial class Migrations
{
    /// <summary>A property, not a field: it is read while <see cref="Steps"/> is initialized, whatever the order of the files.</summary>
    private static string[] ScaleSteps =>
    [
        // 17: what the leases on a host hold, kept on the host's row by triggers, so reading a host (and placing on it)
        // costs the same with 100 leases as with 100,000, and no write path can forget to count. A lease holds its
        // resources (disk: its root disk and data disks) while starting, running, stopped, paused or stopping.
        """
        ALTER TABLE hosts ADD COLUMN held_vcpus INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN held_memory_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN held_disk_bytes INTEGER NOT NULL DEFAULT 0;
        UPDATE hosts SET
            held_vcpus = (SELECT COALESCE(SUM(vcpus), 0) FROM leases l WHERE l.host_id = hosts.host_id
                          AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')),
            held_memory_bytes = (SELECT COALESCE(SUM(memory_bytes), 0) FROM leases l WHERE l.host_id = hosts.host_id
                          AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')),
            held_disk_bytes = (SELECT COALESCE(SUM(disk_bytes + data_disk_total_bytes), 0) FROM leases l WHERE l.host_id = hosts.host_id
                          AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping'));
        CREATE TRIGGER leases_hold_on_insert AFTER INSERT ON leases
        WHEN NEW.host_id IS NOT NULL AND NEW.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes
            WHERE host_id = NEW.host_id;
        END;
        CREATE TRIGGER leases_hold_on_update AFTER UPDATE OF state, host_id, vcpus, memory_bytes, disk_bytes, data_disk_total_bytes ON leases
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus - OLD.vcpus, held_memory_bytes = held_memory_bytes - OLD.memory_bytes,
                held_disk_bytes = held_disk_bytes - OLD.disk_bytes - OLD.data_disk_total_bytes
            WHERE host_id = OLD.host_id AND OLD.state IN ('starting', 'running', 'stopped', 'paused', 'stopping');
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes
            WHERE host_id = NEW.host_id AND NEW.state IN ('starting', 'running', 'stopped', 'paused', 'stopping');
        END;
        CREATE TRIGGER leases_hold_on_delete AFTER DELETE ON leases
        WHEN OLD.host_id IS NOT NULL AND OLD.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus - OLD.vcpus, held_memory_bytes = held_memory_bytes - OLD.memory_bytes,
                held_disk_bytes = held_disk_bytes - OLD.disk_bytes - OLD.data_disk_total_bytes
            WHERE host_id = OLD.host_id;
        END;
        """,

        // 18: leases listed a page at a time, oldest first: each page starts where the last one ended.
        """
        CREATE INDEX leases_by_creation ON leases (created_at, lease_id);
        """,

        // 19: which scheduler replica runs the background duties (expiry, the queue, reservations, drains), until
        // when (Unix ms): a replica holds a duty by renewing its row before then, and another takes it over after.
        """
        CREATE TABLE leadership (
            duty TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            held_until INTEGER NOT NULL
        ) STRICT;
        """,

        // 20: how many leases on a host are stopping (their workspaces being removed), kept on the host's row by
        // triggers: a heartbeat asks the database which of them the host no longer has only when there are any.
        """
        ALTER TABLE hosts ADD COLUMN stopping_leases INTEGER NOT NULL DEFAULT 0;
        UPDATE hosts SET stopping_leases = (SELECT COUNT(*) FROM leases l WHERE l.host_id = hosts.host_id AND l.state = 'stopping');
        CREATE TRIGGER leases_stopping_on_insert AFTER INSERT ON leases
        WHEN NEW.host_id IS NOT NULL AND NEW.state = 'stopping'
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases + 1 WHERE host_id = NEW.host_id;
        END;
        CREATE TRIGGER leases_stopping_on_update AFTER UPDATE OF state, host_id ON leases
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases - 1 WHERE host_id = OLD.host_id AND OLD.state = 'stopping';
            UPDATE hosts SET stopping_leases = stopping_leases + 1 WHERE host_id = NEW.host_id AND NEW.state = 'stopping';
        END;
        CREATE TRIGGER leases_stopping_on_delete AFTER DELETE ON leases
        WHEN OLD.host_id IS NOT NULL AND OLD.state = 'stopping'
        BEGIN
            UPDATE hosts SET stopping_leases = stopping_leases - 1 WHERE host_id = OLD.host_id;
        END;
        """,
    ];
}
