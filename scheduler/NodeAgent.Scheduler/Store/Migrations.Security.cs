namespace NodeAgent.Scheduler.Store;

/// <summary>Schema steps 21 to 24: projects and tokens (docs/security.md), lease groups, and the desired version bumped by a placement's insert.</summary>
internal static partial class Migrations
{
    /// <summary>A property, not a field: it is read while <see cref="Steps"/> is initialized, whatever the order of the files.</summary>
    private static string[] SecuritySteps =>
    [
        // 21: the project a lease counts in (quota, queue, fair share, usage), and the API's bearer tokens. Existing
        // leases counted in their owner's name, and keep doing so. A token is stored as its id and the SHA-256 of its
        // bearer value; role is user, admin or agent, host_id an agent token's host ('' otherwise); times in Unix ms,
        // expires_at NULL for never, revoked_at NULL while valid.
        """
        ALTER TABLE leases ADD COLUMN project TEXT NOT NULL DEFAULT '';
        UPDATE leases SET project = owner;
        CREATE INDEX leases_by_project ON leases (project, created_at, lease_id);
        CREATE TABLE tokens (
            token_id TEXT PRIMARY KEY,
            secret_sha256 BLOB NOT NULL,
            user_name TEXT NOT NULL,
            project TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'admin', 'agent')),
            host_id TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            expires_at INTEGER,
            revoked_at INTEGER,
            revoked_by TEXT NOT NULL DEFAULT ''
        ) STRICT;
        """,

        // 22: secrets every replica shares, made once: the key that signs the image repository's download and upload
        // grants (docs/security.md).
        """
        CREATE TABLE secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        ) STRICT;
        """,

        // 23: the group a lease was made in by one request for several workspaces (NULL for a lease made alone), listed
        // a group at a time.
        """
        ALTER TABLE leases ADD COLUMN group_id TEXT;
        CREATE INDEX leases_by_group ON leases (group_id, created_at, lease_id) WHERE group_id IS NOT NULL;
        """,

        // 24: a lease inserted holding capacity on a host (a placement) is in the host's desired set, so the insert's
        // trigger also bumps the host's desired version, in the UPDATE of the host's row it already makes.
        """
        DROP TRIGGER leases_hold_on_insert;
        CREATE TRIGGER leases_hold_on_insert AFTER INSERT ON leases
        WHEN NEW.host_id IS NOT NULL AND NEW.state IN ('starting', 'running', 'stopped', 'paused', 'stopping')
        BEGIN
            UPDATE hosts SET held_vcpus = held_vcpus + NEW.vcpus, held_memory_bytes = held_memory_bytes + NEW.memory_bytes,
                held_disk_bytes = held_disk_bytes + NEW.disk_bytes + NEW.data_disk_total_bytes, desired_version = desired_version + 1
            WHERE host_id = NEW.host_id;
        END;
        """,
    ];
}
