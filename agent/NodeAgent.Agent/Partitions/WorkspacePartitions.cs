using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Partitions;

/// <summary>Whether workspaces run in per-project cgroup partitions: <c>auto</c> decides from the host.</summary>
public enum PartitionMode
{
    Auto,
    On,
    Off,
}

/// <summary>Puts each workspace's domain in its project's cgroup partition, so projects share the CPU by weight, not by workspace count.</summary>
public interface IWorkspacePartitions
{
    /// <summary>The partition a project's domains are defined in (<c>&lt;resource&gt;&lt;partition&gt;</c>), or null when partitions are off.</summary>
    string? PartitionFor(string project);

    /// <summary>Makes the project's partition in every cgroup hierarchy, as libvirt needs before each start; nothing when off.</summary>
    /// <exception cref="CgroupPartitionException">A cgroup file or directory could not be made or written.</exception>
    void Prepare(string project);
}

/// <summary>Partitions off: domains go where libvirt puts them by default (<c>/machine</c>).</summary>
public sealed class NoPartitions : IWorkspacePartitions
{
    public static readonly NoPartitions Instance = new();

    public string? PartitionFor(string project) => null;

    public void Prepare(string project)
    {
    }
}

/// <summary>Project partitions on this host's cgroupfs, every project with the same CPU weight.</summary>
public sealed class ProjectCgroupPartitions(CgroupPartitions cgroups, uint cpuShares = PartitionWeight.DefaultShares) : IWorkspacePartitions
{
    public string? PartitionFor(string project) => ProjectPartitions.PartitionFor(project);

    public void Prepare(string project) => cgroups.Ensure(ProjectPartitions.PartitionFor(project), cpuShares);

    /// <summary>
    /// What <see cref="PartitionMode.Auto"/> means here, and why: partitions on cgroupfs need libvirt's QEMU driver and a
    /// host where libvirt manages cgroups itself. Under systemd libvirt asks machined, and the partition is a slice whose
    /// weight must be set through systemd, which the agent does not do yet.
    /// </summary>
    public static (bool On, string Why) Decide(PartitionMode mode, string libvirtUri, bool systemdIsInit, Func<CgroupLayout> layout)
    {
        ArgumentNullException.ThrowIfNull(libvirtUri);
        ArgumentNullException.ThrowIfNull(layout);
        if (mode == PartitionMode.Off)
        {
            return (false, "--project-partitions off");
        }

        if (mode == PartitionMode.On)
        {
            return (true, "--project-partitions on");
        }

        if (!libvirtUri.StartsWith("qemu:", StringComparison.Ordinal))
        {
            return (false, $"libvirt {libvirtUri} is not the QEMU driver");
        }

        if (systemdIsInit)
        {
            return (false, "systemd runs this host, so libvirt's partitions are systemd slices, which the agent does not manage yet");
        }

        return layout().All.Count > 0 ? (true, "libvirt manages cgroups on this host itself") : (false, "no cgroup hierarchy is mounted");
    }
}

/// <summary>The agent's log lines about partitions.</summary>
public static partial class PartitionLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "project partitions on: {On} ({Why})")]
    public static partial void Decided(ILogger logger, bool on, string why);
}
