using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Metering;

/// <summary>The records of one sample (sequence not yet given) and the baselines the next sample starts from.</summary>
public sealed record MeteredSample(IReadOnlyList<UsageRecord> Records, IReadOnlyDictionary<string, UsageBaseline> Baselines);

/// <summary>
/// Turns readings into usage records: each record is the difference of every counter from the workspace's baseline.
/// A new QEMU process (another pid) or a counter that went backwards counts from 0. A workspace first seen after an
/// earlier sample was made since then and counts from 0 too; on a journal's very first sample there is nothing to
/// compare with, so that sample only sets baselines. Powered-on time is sampled: the whole interval when powered on at
/// both ends, half when at one end, none otherwise. A workspace powered off at both ends with nothing used gives no record.
/// A record's period is whole seconds from <see cref="MinPeriod"/> to <see cref="MaxPeriod"/>, what the scheduler
/// stores: a workspace sampled again within a second keeps its baseline (the next sample covers the time), unless it is
/// about to power off, when its last use is recorded as one second; a longer interval (an agent that was down) is cut
/// into equal records, its use shared among them by time.
/// </summary>
public static class UsageMeter
{
    public static readonly TimeSpan MinPeriod = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromHours(1);

    /// <param name="previousSample">When the journal's latest sample was made, or null when it has none.</param>
    /// <param name="poweringOff">The workspace the sample is taken for, just before it powers off (its counters go with its QEMU), or null.</param>
    public static MeteredSample Measure(
        IReadOnlyList<WorkspaceReading> readings,
        IReadOnlyDictionary<string, UsageBaseline> baselines,
        DateTimeOffset? previousSample,
        DateTimeOffset now,
        string hostId,
        string? poweringOff = null)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(baselines);
        var records = new List<UsageRecord>();
        var next = new Dictionary<string, UsageBaseline>(StringComparer.Ordinal);
        foreach (var reading in readings.OrderBy(r => r.WorkspaceId, StringComparer.Ordinal))
        {
            UsageBaseline? before = baselines.GetValueOrDefault(reading.WorkspaceId);
            if (before is not null && now <= before.SampledAt)
            {
                // The clock went back: keep the baseline, so the first sample after it passes covers everything since.
                next[reading.WorkspaceId] = before;
                continue;
            }

            next[reading.WorkspaceId] = new UsageBaseline(now, reading.PoweredOn, reading.Pid, reading.Counters);
            if (before is null)
            {
                if (previousSample is not { } since)
                {
                    continue;
                }

                before = new UsageBaseline(since, false, 0, UsageCounters.Zero);
            }

            if (now <= before.SampledAt)
            {
                continue;
            }

            var elapsed = now - before.SampledAt;
            if (elapsed < MinPeriod && reading.WorkspaceId != poweringOff)
            {
                next[reading.WorkspaceId] = before;
                continue;
            }

            var restarted = before.Pid != 0 && reading.Pid != 0 && before.Pid != reading.Pid;
            var used = reading.Counters.Since(restarted ? UsageCounters.Zero : before.Counters);
            var poweredOn = (before.PoweredOn ? elapsed / 2 : TimeSpan.Zero) + (reading.PoweredOn ? elapsed / 2 : TimeSpan.Zero);
            if (!before.PoweredOn && !reading.PoweredOn && used == UsageCounters.Zero)
            {
                continue;
            }

            var pieces = (int)Math.Ceiling(elapsed / MaxPeriod);
            for (var piece = 0; piece < pieces; piece++)
            {
                records.Add(Record(reading, hostId, before.SampledAt + (elapsed * piece / pieces), elapsed / pieces, poweredOn / pieces, Share(used, piece, pieces)));
            }
        }

        return new MeteredSample(records, next);
    }

    private static UsageRecord Record(WorkspaceReading reading, string hostId, DateTimeOffset start, TimeSpan period, TimeSpan poweredOn, UsageCounters used) => new()
    {
        LeaseId = reading.WorkspaceId,
        Owner = reading.Owner,
        Project = reading.Owner,
        HostId = hostId,
        PeriodStart = Timestamp.FromDateTimeOffset(start),
        PeriodSeconds = (uint)Math.Max(1, Math.Round(period.TotalSeconds)),
        PoweredOnSeconds = (uint)Math.Round(poweredOn.TotalSeconds),
        CpuSeconds = used.CpuSeconds,
        VcpuSeconds = used.VcpuSeconds,
        MemoryBytes = reading.MemoryBytes,
        MemoryResidentBytes = reading.MemoryResidentBytes,
        NetRxBytes = used.NetRxBytes,
        NetTxBytes = used.NetTxBytes,
        NetRxPackets = used.NetRxPackets,
        NetTxPackets = used.NetTxPackets,
        DiskReadBytes = used.DiskReadBytes,
        DiskWriteBytes = used.DiskWriteBytes,
        DiskReadOps = used.DiskReadOps,
        DiskWriteOps = used.DiskWriteOps,
    };

    /// <summary>Piece <paramref name="piece"/> of <paramref name="pieces"/> equal ones; the integer counters' pieces add up to the whole exactly.</summary>
    private static UsageCounters Share(UsageCounters used, int piece, int pieces)
    {
        if (pieces == 1)
        {
            return used;
        }

        ulong U(ulong total) => (ulong)(((UInt128)total * (ulong)(piece + 1) / (ulong)pieces) - ((UInt128)total * (ulong)piece / (ulong)pieces));
        return new UsageCounters(
            used.CpuSeconds / pieces, used.VcpuSeconds / pieces,
            U(used.NetRxBytes), U(used.NetTxBytes), U(used.NetRxPackets), U(used.NetTxPackets),
            U(used.DiskReadBytes), U(used.DiskWriteBytes), U(used.DiskReadOps), U(used.DiskWriteOps));
    }
}
