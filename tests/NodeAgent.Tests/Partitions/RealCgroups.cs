using System.Diagnostics;
using System.Globalization;
using NodeAgent.Agent.Partitions;

namespace NodeAgent.Tests.Partitions;

/// <summary>
/// This machine's real cgroup hierarchies (/sys/fs/cgroup, v1 + a controller-less cgroup2), with partitions made under a
/// parent of the test's own instead of libvirt's machine/, so real guests' cgroups are never touched. Disposing removes
/// every directory the test made, children first (cgroupfs directories are removed empty; their files cannot be deleted).
/// </summary>
internal sealed class RealCgroups : IDisposable
{
    public RealCgroups() => Partitions = new CgroupPartitions(CgroupPartitions.DefaultRoot, "nodeagent-test-" + Guid.NewGuid().ToString("N")[..8]);

    public CgroupPartitions Partitions { get; }

    /// <summary>The partition's directory in one hierarchy, e.g. "cpuacct".</summary>
    public string Directory(string hierarchy, string partition) =>
        Path.Combine(CgroupPartitions.DefaultRoot, hierarchy, Partitions.Parent, ProjectPartitions.DirectoryName(partition));

    public void Dispose()
    {
        foreach (var hierarchy in Partitions.Hierarchies())
        {
            var parent = Path.Combine(hierarchy, Partitions.Parent);
            if (!System.IO.Directory.Exists(parent))
            {
                continue;
            }

            foreach (var child in System.IO.Directory.GetDirectories(parent))
            {
                System.IO.Directory.Delete(child);
            }

            System.IO.Directory.Delete(parent);
        }
    }
}

/// <summary>Shell processes spinning on the CPU, each moved into the cgroups given; killed (and reaped, so their cgroups empty) when disposed.</summary>
internal sealed class Burners : IDisposable
{
    private readonly List<Process> _processes = [];

    public Process Start(string command, params string[] cgroups)
    {
        var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]))!;
        _processes.Add(process);
        foreach (var cgroup in cgroups)
        {
            File.WriteAllText(Path.Combine(cgroup, "cgroup.procs"), process.Id.ToString(CultureInfo.InvariantCulture));
        }

        return process;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Kill();
            process.WaitForExit();
            process.Dispose();
        }
    }
}
