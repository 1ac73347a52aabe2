namespace NodeAgent.Agent.Metering;

/// <summary>
/// A workspace's cumulative counters since its QEMU process started: CPU seconds from its cgroup (QEMU's own threads
/// included) and from libvirt's vCPU time, network bytes and packets, disk bytes and operations. All zero while shut off.
/// </summary>
public sealed record UsageCounters(
    double CpuSeconds = 0,
    double VcpuSeconds = 0,
    ulong NetRxBytes = 0,
    ulong NetTxBytes = 0,
    ulong NetRxPackets = 0,
    ulong NetTxPackets = 0,
    ulong DiskReadBytes = 0,
    ulong DiskWriteBytes = 0,
    ulong DiskReadOps = 0,
    ulong DiskWriteOps = 0)
{
    public static readonly UsageCounters Zero = new();

    /// <summary>
    /// What was used since <paramref name="previous"/>, counter by counter; a counter lower than before was reset
    /// (the domain restarted) and counts from 0, so all of its current value is new use.
    /// </summary>
    public UsageCounters Since(UsageCounters previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        static double D(double now, double before) => now >= before ? now - before : now;
        static ulong U(ulong now, ulong before) => now >= before ? now - before : now;
        return new UsageCounters(
            D(CpuSeconds, previous.CpuSeconds), D(VcpuSeconds, previous.VcpuSeconds),
            U(NetRxBytes, previous.NetRxBytes), U(NetTxBytes, previous.NetTxBytes),
            U(NetRxPackets, previous.NetRxPackets), U(NetTxPackets, previous.NetTxPackets),
            U(DiskReadBytes, previous.DiskReadBytes), U(DiskWriteBytes, previous.DiskWriteBytes),
            U(DiskReadOps, previous.DiskReadOps), U(DiskWriteOps, previous.DiskWriteOps));
    }
}

/// <summary>
/// One workspace as read at one sample: whose it is, whether its domain is powered on (running, blocked, paused or
/// suspended: QEMU holds its memory), the QEMU process id (0 when unknown), what it is given and holds, and its counters.
/// </summary>
public sealed record WorkspaceReading(
    string WorkspaceId,
    string Owner,
    bool PoweredOn,
    int Pid,
    ulong MemoryBytes,
    ulong MemoryResidentBytes,
    UsageCounters Counters);

/// <summary>
/// Where a workspace's counters stood at the latest sample written to the journal: the next record is the difference
/// from here. <see cref="Pid"/> tells a restarted QEMU (new process, counters from 0) from a running one.
/// </summary>
public sealed record UsageBaseline(DateTimeOffset SampledAt, bool PoweredOn, int Pid, UsageCounters Counters);
