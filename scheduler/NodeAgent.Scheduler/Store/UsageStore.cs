using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Usage;

namespace NodeAgent.Scheduler.Store;

/// <summary>The source of truth for metered usage and, per host, how far its records are acknowledged.</summary>
public interface IUsageStore
{
    /// <summary>
    /// Stores the records a host shipped, each (host, sequence) once — a resent record is ignored — and moves
    /// the host's acknowledged sequence over every record now stored without a gap, in one transaction.
    /// </summary>
    Task<UsageAppendResult> AppendAsync(HostId host, IReadOnlyList<UsageEntry> entries, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>The highest sequence up to which every record the host sent is stored (0: none yet).</summary>
    long Acknowledged(HostId host);

    /// <summary>Matching records ordered by period_start, host and sequence; at most <paramref name="limit"/>.</summary>
    IReadOnlyList<UsageEntry> Query(UsageQuery query, int limit);

    /// <summary>The sums of the matching records per group, ordered by key.</summary>
    IReadOnlyList<UsageSum> Totals(UsageQuery query, UsageGrouping grouping);
}

/// <summary>Usage in SQLite (the usage and usage_acknowledged tables, schema step 10).</summary>
public sealed class SqliteUsageStore(SqliteDatabase database) : IUsageStore
{
    private const string Columns =
        "host_id, sequence, lease_id, owner, project, period_start, period_seconds, cpu_seconds, vcpu_seconds, memory_bytes, " +
        "memory_resident_bytes, net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets, disk_read_bytes, disk_write_bytes, " +
        "disk_read_ops, disk_write_ops, powered_on_seconds";

    private const string Filter =
        "($owner IS NULL OR owner = $owner) AND ($project IS NULL OR project = $project) AND period_start >= $from AND period_start < $to";

    public Task<UsageAppendResult> AppendAsync(HostId host, IReadOnlyList<UsageEntry> entries, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            var inserted = 0;
            foreach (var e in entries)
            {
                using var insert = SqliteDatabase.Command(
                    connection, transaction,
                    $"INSERT OR IGNORE INTO usage ({Columns}, received_at) VALUES ($host, $seq, $lease, $owner, $project, $start, $period, $cpu, $vcpu, " +
                    "$mem, $rss, $rx, $tx, $rxp, $txp, $dr, $dw, $dro, $dwo, $on, $now)",
                    ("$host", host.Value), ("$seq", e.Sequence), ("$lease", e.LeaseId), ("$owner", e.Owner), ("$project", e.Project),
                    ("$start", Nanos(e.PeriodStart)), ("$period", e.PeriodSeconds), ("$cpu", e.CpuSeconds), ("$vcpu", e.VcpuSeconds),
                    ("$mem", e.MemoryBytes), ("$rss", e.MemoryResidentBytes), ("$rx", e.NetRxBytes), ("$tx", e.NetTxBytes),
                    ("$rxp", e.NetRxPackets), ("$txp", e.NetTxPackets), ("$dr", e.DiskReadBytes), ("$dw", e.DiskWriteBytes),
                    ("$dro", e.DiskReadOps), ("$dwo", e.DiskWriteOps), ("$on", e.PoweredOnSeconds), ("$now", now.ToUnixTimeMilliseconds()));
                inserted += insert.ExecuteNonQuery();
            }

            var acknowledged = Advance(connection, transaction, host, entries);
            using var save = SqliteDatabase.Command(
                connection, transaction,
                "INSERT INTO usage_acknowledged (host_id, sequence) VALUES ($host, $seq) ON CONFLICT (host_id) DO UPDATE SET sequence = excluded.sequence",
                ("$host", host.Value), ("$seq", acknowledged));
            save.ExecuteNonQuery();
            return new UsageAppendResult(inserted, acknowledged);
        }, cancellationToken);

    public long Acknowledged(HostId host) => database.Read(connection => Stored(connection, null, host) ?? 0);

    public IReadOnlyList<UsageEntry> Query(UsageQuery query, int limit) => database.Read(connection =>
    {
        using var command = SqliteDatabase.Command(
            connection, null,
            $"SELECT {Columns} FROM usage WHERE {Filter} ORDER BY period_start, host_id, sequence LIMIT $limit",
            [.. Parameters(query), ("$limit", limit)]);
        using var r = command.ExecuteReader();
        var entries = new List<UsageEntry>();
        while (r.Read())
        {
            entries.Add(new UsageEntry(
                HostId.Parse(r.GetString(0)), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), FromNanos(r.GetInt64(5)),
                r.GetInt32(6), r.GetDouble(7), r.GetDouble(8), r.GetInt64(9), r.GetInt64(10), r.GetInt64(11), r.GetInt64(12),
                r.GetInt64(13), r.GetInt64(14), r.GetInt64(15), r.GetInt64(16), r.GetInt64(17), r.GetInt64(18), r.GetInt32(19)));
        }

        return entries;
    });

    public IReadOnlyList<UsageSum> Totals(UsageQuery query, UsageGrouping grouping) => database.Read(connection =>
    {
        var key = grouping switch
        {
            UsageGrouping.Lease => "lease_id",
            UsageGrouping.Project => "project",
            UsageGrouping.Owner => "owner",
            _ => "''",
        };
        // Byte counters are validated to at most 2^53 each, so SUM stays exact far beyond any real range;
        // memory × seconds is summed as REAL because it is a product.
        using var command = SqliteDatabase.Command(
            connection, null,
            $"""
            SELECT {key}, COUNT(*), TOTAL(cpu_seconds), TOTAL(vcpu_seconds), TOTAL(CAST(memory_bytes AS REAL) * period_seconds),
                   SUM(powered_on_seconds), SUM(net_rx_bytes), SUM(net_tx_bytes), SUM(disk_read_bytes), SUM(disk_write_bytes),
                   MIN(period_start), MAX(period_start)
            FROM usage WHERE {Filter}
            GROUP BY 1 HAVING COUNT(*) > 0 ORDER BY 1
            """,
            Parameters(query));
        using var r = command.ExecuteReader();
        var sums = new List<UsageSum>();
        while (r.Read())
        {
            sums.Add(new UsageSum(
                r.GetString(0), r.GetInt64(1), r.GetDouble(2), r.GetDouble(3), r.GetDouble(4), r.GetInt64(5), r.GetInt64(6),
                r.GetInt64(7), r.GetInt64(8), r.GetInt64(9), FromNanos(r.GetInt64(10)), FromNanos(r.GetInt64(11))));
        }

        return sums;
    });

    /// <summary>
    /// The new acknowledged sequence: from the stored one (for a host never acknowledged, from just below the
    /// lowest sequence it has sent — its journal may begin above 1 after compaction), over every following
    /// sequence that is stored, up to the first gap.
    /// </summary>
    private static long Advance(SqliteConnection connection, SqliteTransaction transaction, HostId host, IReadOnlyList<UsageEntry> entries)
    {
        var acknowledged = Stored(connection, transaction, host);
        if (acknowledged is null)
        {
            using var lowest = SqliteDatabase.Command(connection, transaction, "SELECT MIN(sequence) FROM usage WHERE host_id = $host", ("$host", host.Value));
            var min = lowest.ExecuteScalar();
            acknowledged = min is long m ? m - 1 : entries.Count > 0 ? entries.Min(e => e.Sequence) - 1 : 0;
        }

        var ack = acknowledged.Value;
        using var following = SqliteDatabase.Command(
            connection, transaction, "SELECT sequence FROM usage WHERE host_id = $host AND sequence > $ack ORDER BY sequence",
            ("$host", host.Value), ("$ack", ack));
        using var r = following.ExecuteReader();
        while (r.Read() && r.GetInt64(0) == ack + 1)
        {
            ack++;
        }

        return ack;
    }

    private static long? Stored(SqliteConnection connection, SqliteTransaction? transaction, HostId host)
    {
        using var command = SqliteDatabase.Command(connection, transaction, "SELECT sequence FROM usage_acknowledged WHERE host_id = $host", ("$host", host.Value));
        return command.ExecuteScalar() is long value ? value : null;
    }

    private static (string, object?)[] Parameters(UsageQuery q) =>
        [("$owner", q.Owner), ("$project", q.Project), ("$from", Nanos(q.From)), ("$to", Nanos(q.To))];

    /// <summary>Unix nanoseconds, clamped to what 64 bits hold (1677–2262).</summary>
    internal static long Nanos(DateTimeOffset time) =>
        Math.Clamp(time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, long.MinValue / 100, long.MaxValue / 100) * 100;

    internal static DateTimeOffset FromNanos(long nanos) => DateTimeOffset.UnixEpoch.AddTicks(nanos / 100);
}
