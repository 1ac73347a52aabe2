namespace NodeAgent.Scheduler.Store;

/// <summary>Schema step 25: on SQLite, what leases hold on a host is kept in memory, not on the host's row (docs/scale.md).</summary>
internal static partial class Migrations
{
    /// <summary>A property, not a field: it is read while <see cref="Steps"/> is initialized, whatever the order of the files.</summary>
    private static string[] HoldingsSteps =>
    [
        // 25: the scheduler alone on its SQLite file keeps what each host's leases hold, how many of them are stopping
        // and the host's desired-set version in memory (HostCache), summed from the leases when the file is opened: a
        // placement then writes its lease and nothing else, where the triggers of steps 17, 20 and 24 rewrote the
        // host's row too, the most costly part of a placement's write. The columns they kept go with them. A desired
        // version is now an epoch (this table's one row, taken anew at every opening) above a counter of the run, so
        // a version is never given out twice, across restarts too (DesiredVersions).
        """
        DROP TRIGGER leases_hold_on_insert;
        DROP TRIGGER leases_hold_on_update;
        DROP TRIGGER leases_hold_on_delete;
        DROP TRIGGER leases_stopping_on_insert;
        DROP TRIGGER leases_stopping_on_update;
        DROP TRIGGER leases_stopping_on_delete;
        ALTER TABLE hosts DROP COLUMN held_vcpus;
        ALTER TABLE hosts DROP COLUMN held_memory_bytes;
        ALTER TABLE hosts DROP COLUMN held_disk_bytes;
        ALTER TABLE hosts DROP COLUMN stopping_leases;
        ALTER TABLE hosts DROP COLUMN desired_version;
        CREATE TABLE desired_version_epoch (epoch INTEGER NOT NULL) STRICT;
        INSERT INTO desired_version_epoch (epoch) VALUES (0);
        """,
    ];
}
