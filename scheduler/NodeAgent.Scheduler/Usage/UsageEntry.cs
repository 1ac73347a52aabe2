using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Usage;

/// <summary>
/// What one workspace used during one period, as its host metered it; (<see cref="Host"/>, <see cref="JournalEpoch"/>,
/// <see cref="Sequence"/>) names it, so a record shipped twice is the same record, while a host whose journal was lost
/// numbers its new one's records under a new epoch. <see cref="PeriodStart"/> is kept to 100 ns.
/// </summary>
public sealed record UsageEntry(
    HostId Host,
    ulong JournalEpoch,
    long Sequence,
    string LeaseId,
    string Owner,
    string Project,
    DateTimeOffset PeriodStart,
    int PeriodSeconds,
    double CpuSeconds,
    double VcpuSeconds,
    long MemoryBytes,
    long MemoryResidentBytes,
    long NetRxBytes,
    long NetTxBytes,
    long NetRxPackets,
    long NetTxPackets,
    long DiskReadBytes,
    long DiskWriteBytes,
    long DiskReadOps,
    long DiskWriteOps,
    int PoweredOnSeconds);

/// <summary>Which records a reader wants: an owner's (null: every owner's), a project's (null: every project's), period_start in [From, To).</summary>
public sealed record UsageQuery(string? Owner, string? Project, DateTimeOffset From, DateTimeOffset To);

/// <summary>How totals are grouped.</summary>
public enum UsageGrouping
{
    /// <summary>One total over every matching record.</summary>
    None,
    Lease,
    Project,
    Owner,
}

/// <summary>The sums of the records of one group (<see cref="Key"/> empty when not grouped).</summary>
public sealed record UsageSum(
    string Key,
    long Records,
    double CpuSeconds,
    double VcpuSeconds,
    double MemoryByteSeconds,
    long PoweredOnSeconds,
    long NetRxBytes,
    long NetTxBytes,
    long DiskReadBytes,
    long DiskWriteBytes,
    DateTimeOffset FirstPeriodStart,
    DateTimeOffset LastPeriodStart);

/// <summary>The outcome of storing a batch: how many were new, and the acknowledged sequence of the host's journal epoch after it.</summary>
public sealed record UsageAppendResult(int Inserted, long Acknowledged);
