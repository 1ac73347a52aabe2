using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Agent.Metering;

/// <summary>Reads the cumulative counters of this host's workspaces at one moment.</summary>
public interface IUsageSource
{
    IReadOnlyList<WorkspaceReading> Read();
}

/// <summary>
/// The counters of NodeAgent's domains that this host owns (no host in their metadata, or this one), from one libvirt
/// bulk stats call plus each running domain's cgroup. CPU seconds are the cgroup's (QEMU's overhead included); where no
/// cgroup can be read (no QEMU pid file: libvirt's test driver) libvirt's cpu.time, which counts the same threads.
/// </summary>
public sealed class UsageProbe(IHypervisor hypervisor, CgroupCpu cgroups, string hostId) : IUsageSource
{
    private const double Nanoseconds = 1e9;

    public IReadOnlyList<WorkspaceReading> Read()
    {
        var readings = new List<WorkspaceReading>();
        foreach (var stats in hypervisor.GetAllDomainStats(DomainNames.Prefix))
        {
            if (!DomainNames.TryParse(stats.Name, out var id))
            {
                continue;
            }

            WorkspaceMetadata? metadata;
            try
            {
                metadata = WorkspaceMetadata.Parse(hypervisor.GetMetadata(stats.Name, WorkspaceMetadata.Namespace));
            }
            catch (LibvirtException e) when (e.IsNoDomain)
            {
                continue; // undefined since the stats call
            }

            if (metadata is { Host.Length: > 0 } && metadata.Host != hostId)
            {
                continue;
            }

            readings.Add(Reading(id, metadata?.Owner ?? string.Empty, stats, cgroups.Read(stats.Name)));
        }

        return readings;
    }

    /// <summary>One workspace's reading from its bulk stats and its cgroup's CPU time (null when it has none).</summary>
    public static WorkspaceReading Reading(string workspaceId, string owner, DomainStats stats, CgroupCpuReading? cgroup)
    {
        ArgumentNullException.ThrowIfNull(stats);
        var state = (DomainState)(stats["state.state"] ?? 0);
        var poweredOn = state is DomainState.Running or DomainState.Blocked or DomainState.Paused or DomainState.Shutdown or DomainState.PMSuspended;
        if (!poweredOn)
        {
            return new WorkspaceReading(workspaceId, owner, false, 0, 0, 0, UsageCounters.Zero);
        }

        static ulong U(double? value) => value is { } v && v > 0 ? (ulong)v : 0;
        var counters = new UsageCounters(
            cgroup?.CpuSeconds ?? (stats["cpu.time"] ?? 0) / Nanoseconds,
            (stats.Sum("vcpu", "time") ?? 0) / Nanoseconds,
            U(stats.Sum("net", "rx.bytes")), U(stats.Sum("net", "tx.bytes")),
            U(stats.Sum("net", "rx.pkts")), U(stats.Sum("net", "tx.pkts")),
            U(stats.Sum("block", "rd.bytes")), U(stats.Sum("block", "wr.bytes")),
            U(stats.Sum("block", "rd.reqs")), U(stats.Sum("block", "wr.reqs")));
        return new WorkspaceReading(workspaceId, owner, true, cgroup?.Pid ?? 0,
            U(stats["balloon.maximum"]) * 1024, U(stats["balloon.rss"]) * 1024, counters);
    }
}
