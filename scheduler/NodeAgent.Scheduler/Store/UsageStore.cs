using System.Data.Common;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Usage;

namespace NodeAgent.Scheduler.Store;

/// <summary>The source of truth for metered usage and, per host and journal epoch, how far its records are acknowledged.</summary>
public interface IUsageStore
{
    /// <summary>
    /// Stores the records a host shipped from its journal of epoch <paramref name="epoch"/> (every entry's
    /// <see cref="UsageEntry.JournalEpoch"/>), each (host, epoch, sequence) once — a resent record is ignored — and
    /// moves the (host, epoch)'s acknowledged sequence over every record now stored without a gap, in one transaction.
    /// </summary>
    Task<UsageAppendResult> AppendAsync(HostId host, ulong epoch, IReadOnlyList<UsageEntry> entries, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>The highest sequence up to which every record the host sent from journal epoch <paramref name="epoch"/> is stored (0: none yet).</summary>
    long Acknowledged(HostId host, ulong epoch);

    /// <summary>Matching records ordered by period_start, host and sequence; at most <paramref name="limit"/>.</summary>
    IReadOnlyList<UsageEntry> Query(UsageQuery query, int limit);

    /// <summary>The sums of the matching records per group, ordered by key.</summary>
    IReadOnlyList<UsageSum> Totals(UsageQuery query, UsageGrouping grouping);
}

/// <summary>
/// Usage in SQLite (the usage and usage_acknowledged tables, schema steps 10 and 11). A journal epoch is an unsigned
/// 64-bit id, kept in an INTEGER column as the signed integer of the same bits.
/// </summary>
public sealed class UsageStore(IStoreDatabase database) : IUsageStore
{
    private const string Columns =
        "host_id, journal_epoch, sequence, lease_id, owner, project, period_start, period_seconds, cpu_seconds, vcpu_seconds, memory_bytes, " +
        "memory_resident_bytes, net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets, disk_read_bytes, disk_write_bytes, " +
        "disk_read_ops, disk_write_ops, powered_on_seconds";

    private const string Filter =
        "(CAST(@owner AS TEXT) IS NULL OR owner = @owner) AND (CAST(@project AS TEXT) IS NULL OR project = @project) AND period_start >= @from AND period_start < @to";

    public Task<UsageAppendResult> AppendAsync(HostId host, ulong epoch, IReadOnlyList<UsageEntry> entries, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (entries.FirstOrDefault(e => e.JournalEpoch != epoch) is { } other)
        {
            throw new ArgumentException($"usage entry {other.Sequence} is of journal epoch {other.JournalEpoch}, not the batch's {epoch}; store each epoch's entries in their own call", nameof(entries));
        }

        return database.WriteAsync((connection, transaction) =>
        {
            var inserted = 0;
            foreach (var e in entries)
            {
                using var insert = Sql.Command(
                    connection, transaction,
                    $"INSERT INTO usage ({Columns}, received_at) VALUES (@host, @epoch, @seq, @lease, @owner, @project, @start, @period, @cpu, @vcpu, " +
                    "@mem, @rss, @rx, @tx, @rxp, @txp, @dr, @dw, @dro, @dwo, @on, @now) ON CONFLICT DO NOTHING",
                    ("@host", host.Value), ("@epoch", Signed(epoch)), ("@seq", e.Sequence), ("@lease", e.LeaseId), ("@owner", e.Owner), ("@project", e.Project),
                    ("@start", Nanos(e.PeriodStart)), ("@period", e.PeriodSeconds), ("@cpu", e.CpuSeconds), ("@vcpu", e.VcpuSeconds),
                    ("@mem", e.MemoryBytes), ("@rss", e.MemoryResidentBytes), ("@rx", e.NetRxBytes), ("@tx", e.NetTxBytes),
                    ("@rxp", e.NetRxPackets), ("@txp", e.NetTxPackets), ("@dr", e.DiskReadBytes), ("@dw", e.DiskWriteBytes),
                    ("@dro", e.DiskReadOps), ("@dwo", e.DiskWriteOps), ("@on", e.PoweredOnSeconds), ("@now", now.ToUnixTimeMilliseconds()));
                inserted += insert.ExecuteNonQuery();
            }

            var acknowledged = Advance(connection, transaction, host, epoch, entries);
            using var save = Sql.Command(
                connection, transaction,
                "INSERT INTO usage_acknowledged (host_id, journal_epoch, sequence) VALUES (@host, @epoch, @seq) " +
                "ON CONFLICT (host_id, journal_epoch) DO UPDATE SET sequence = excluded.sequence",
                ("@host", host.Value), ("@epoch", Signed(epoch)), ("@seq", acknowledged));
            save.ExecuteNonQuery();
            return new UsageAppendResult(inserted, acknowledged);
        }, cancellationToken);
    }

    public long Acknowledged(HostId host, ulong epoch) => database.Read(connection => Stored(connection, null, host, epoch) ?? 0);

    public IReadOnlyList<UsageEntry> Query(UsageQuery query, int limit) => database.Read(connection =>
    {
        using var command = Sql.Command(
            connection, null,
            $"SELECT {Columns} FROM usage WHERE {Filter} ORDER BY period_start, host_id, journal_epoch, sequence LIMIT @limit",
            [.. Parameters(query), ("@limit", limit)]);
        using var r = command.ExecuteReader();
        var entries = new List<UsageEntry>();
        while (r.Read())
        {
            entries.Add(new UsageEntry(
                HostId.Parse(r.GetString(0)), Unsigned(r.GetInt64(1)), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5),
                FromNanos(r.GetInt64(6)), r.GetInt32(7), r.GetDouble(8), r.GetDouble(9), r.GetInt64(10), r.GetInt64(11), r.GetInt64(12),
                r.GetInt64(13), r.GetInt64(14), r.GetInt64(15), r.GetInt64(16), r.GetInt64(17), r.GetInt64(18), r.GetInt64(19), r.GetInt32(20)));
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
        // memory × seconds is summed as a double because it is a product; each SUM is cast to the type it is read as (on PostgreSQL the SUM of a bigint is numeric).
        using var command = Sql.Command(
            connection, null,
            $"""
            SELECT {key}, COUNT(*), SUM(cpu_seconds), SUM(vcpu_seconds), SUM(CAST(memory_bytes AS DOUBLE PRECISION) * period_seconds),
                   CAST(SUM(powered_on_seconds) AS BIGINT), CAST(SUM(net_rx_bytes) AS BIGINT), CAST(SUM(net_tx_bytes) AS BIGINT),
                   CAST(SUM(disk_read_bytes) AS BIGINT), CAST(SUM(disk_write_bytes) AS BIGINT),
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
    /// The new acknowledged sequence of (host, epoch): from the stored one (for an epoch never acknowledged, from just
    /// below the lowest sequence the host has sent in it — its journal may begin above 1 after compaction), over every
    /// following sequence of that epoch that is stored, up to the first gap. A new epoch starts its own count.
    /// </summary>
    private static long Advance(DbConnection connection, DbTransaction transaction, HostId host, ulong epoch, IReadOnlyList<UsageEntry> entries)
    {
        var acknowledged = Stored(connection, transaction, host, epoch);
        if (acknowledged is null)
        {
            using var lowest = Sql.Command(
                connection, transaction, "SELECT MIN(sequence) FROM usage WHERE host_id = @host AND journal_epoch = @epoch",
                ("@host", host.Value), ("@epoch", Signed(epoch)));
            var min = lowest.ExecuteScalar();
            acknowledged = min is long m ? m - 1 : entries.Count > 0 ? entries.Min(e => e.Sequence) - 1 : 0;
        }

        var ack = acknowledged.Value;
        using var following = Sql.Command(
            connection, transaction,
            "SELECT sequence FROM usage WHERE host_id = @host AND journal_epoch = @epoch AND sequence > @ack ORDER BY sequence",
            ("@host", host.Value), ("@epoch", Signed(epoch)), ("@ack", ack));
        using var r = following.ExecuteReader();
        while (r.Read() && r.GetInt64(0) == ack + 1)
        {
            ack++;
        }

        return ack;
    }

    private static long? Stored(DbConnection connection, DbTransaction? transaction, HostId host, ulong epoch)
    {
        using var command = Sql.Command(
            connection, transaction, "SELECT sequence FROM usage_acknowledged WHERE host_id = @host AND journal_epoch = @epoch",
            ("@host", host.Value), ("@epoch", Signed(epoch)));
        return command.ExecuteScalar() is long value ? value : null;
    }

    /// <summary>An epoch as SQLite keeps it: the signed 64-bit integer of the same bits.</summary>
    private static long Signed(ulong epoch) => unchecked((long)epoch);

    private static ulong Unsigned(long stored) => unchecked((ulong)stored);

    private static (string, object?)[] Parameters(UsageQuery q) =>
        [("@owner", q.Owner), ("@project", q.Project), ("@from", Nanos(q.From)), ("@to", Nanos(q.To))];

    /// <summary>Unix nanoseconds, clamped to what 64 bits hold (1677–2262).</summary>
    internal static long Nanos(DateTimeOffset time) =>
        Math.Clamp(time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, long.MinValue / 100, long.MaxValue / 100) * 100;

    internal static DateTimeOffset FromNanos(long nanos) => DateTimeOffset.UnixEpoch.AddTicks(nanos / 100);
}
