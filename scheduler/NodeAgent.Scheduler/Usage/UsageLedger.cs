using NodeAgent.Contract;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Usage;

/// <summary>
/// Takes usage from agents and answers it to readers. Owns the rules: only a registered host reports, every
/// record is kept (even one for a lease the scheduler does not place on that host — usage is never dropped,
/// only logged), and a read that would return more than <see cref="MaxRecords"/> records is refused.
/// </summary>
public sealed partial class UsageLedger(IUsageStore store, HostRegistry hosts, ILeaseStore leases, TimeProvider time, ILogger<UsageLedger> logger)
{
    /// <summary>The most records one answer carries: at a few hundred bytes each they fill most of a 4 MiB message.</summary>
    public const int MaxRecords = 10_000;

    /// <summary>
    /// Stores a host's batch, every entry of journal epoch <paramref name="epoch"/>; throws
    /// <see cref="HostNotFoundException"/> for a host that never registered.
    /// </summary>
    public async Task<UsageAppendResult> ReportAsync(HostId host, ulong epoch, IReadOnlyList<UsageEntry> entries, CancellationToken cancellationToken)
    {
        _ = hosts.Get(host);
        foreach (var (lease, count) in Foreign(host, entries))
        {
            LogForeignLease(logger, host.Value, lease, count);
        }

        var result = await store.AppendAsync(host, epoch, entries, time.GetUtcNow(), cancellationToken);
        LogReported(logger, host.Value, entries.Count, result.Inserted, epoch, result.Acknowledged);
        return result;
    }

    /// <summary>The matching records; throws <see cref="TooMuchUsageException"/> beyond <see cref="MaxRecords"/>.</summary>
    public IReadOnlyList<UsageEntry> Records(UsageQuery query)
    {
        var records = store.Query(query, MaxRecords + 1);
        return records.Count > MaxRecords ? throw new TooMuchUsageException(MaxRecords) : records;
    }

    public IReadOnlyList<UsageSum> Totals(UsageQuery query, UsageGrouping grouping) => store.Totals(query, grouping);

    /// <summary>Leases in the batch the scheduler does not know as placed on this host, with how many records each has.</summary>
    private IEnumerable<(string Lease, int Count)> Foreign(HostId host, IReadOnlyList<UsageEntry> entries)
    {
        foreach (var group in entries.GroupBy(e => e.LeaseId, StringComparer.Ordinal))
        {
            var placed = Domain.LeaseId.TryParse(group.Key, out var id, out _) ? leases.Read(s => s.FindLease(id))?.Host : null;
            if (placed != host)
            {
                yield return (group.Key, group.Count());
            }
        }
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Warning, Message = "Host {HostId} reported {Count} usage records for lease {LeaseId}, which is not placed on it; they are stored all the same")]
    private static partial void LogForeignLease(ILogger logger, string hostId, string leaseId, int count);

    [LoggerMessage(EventId = 701, Level = LogLevel.Debug, Message = "Host {HostId} reported {Count} usage records, {Inserted} new; journal epoch {JournalEpoch} acknowledged up to {Acknowledged}")]
    private static partial void LogReported(ILogger logger, string hostId, int count, int inserted, ulong journalEpoch, long acknowledged);
}

/// <summary>A usage read matched more records than one answer carries; the message says to narrow it or ask for totals.</summary>
public sealed class TooMuchUsageException : Exception
{
    public TooMuchUsageException(int max)
        : base($"more than {max} usage records match; narrow the time range (from/to), filter by project, or ask for totals only (totals_only, as `ws usage` does)")
    {
    }

    public TooMuchUsageException()
    {
    }

    public TooMuchUsageException(string message)
        : base(message)
    {
    }

    public TooMuchUsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
