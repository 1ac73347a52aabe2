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
/// </summary>
public static class UsageMeter
{
    /// <param name="previousSample">When the journal's latest sample was made, or null when it has none.</param>
    public static MeteredSample Measure(
        IReadOnlyList<WorkspaceReading> readings,
        IReadOnlyDictionary<string, UsageBaseline> baselines,
        DateTimeOffset? previousSample,
        DateTimeOffset now,
        string hostId)
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

            var restarted = before.Pid != 0 && reading.Pid != 0 && before.Pid != reading.Pid;
            var used = reading.Counters.Since(restarted ? UsageCounters.Zero : before.Counters);
            var elapsed = now - before.SampledAt;
            var poweredOn = (before.PoweredOn ? elapsed / 2 : TimeSpan.Zero) + (reading.PoweredOn ? elapsed / 2 : TimeSpan.Zero);
            if (!before.PoweredOn && !reading.PoweredOn && used == UsageCounters.Zero)
            {
                continue;
            }

            records.Add(new UsageRecord
            {
                LeaseId = reading.WorkspaceId,
                Owner = reading.Owner,
                Project = reading.Owner,
                HostId = hostId,
                PeriodStart = Timestamp.FromDateTimeOffset(before.SampledAt),
                PeriodSeconds = (uint)Math.Round(elapsed.TotalSeconds),
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
            });
        }

        return new MeteredSample(records, next);
    }
}
