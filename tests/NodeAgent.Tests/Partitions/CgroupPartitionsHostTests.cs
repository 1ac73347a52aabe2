using NodeAgent.Agent.Partitions;

namespace NodeAgent.Tests.Partitions;

/// <summary>Partitions on this machine's real cgroup v1 hierarchies and controller-less cgroup2 mount, under a parent of the test's own.</summary>
public sealed class CgroupPartitionsHostTests : IDisposable
{
    private static readonly string Alice = ProjectPartitions.PartitionFor("alice");
    private readonly RealCgroups _host = new();

    public void Dispose() => _host.Dispose();

    [Fact]
    public void Hierarchies_ThisMachine_AreTheCgroupMountsInProcMounts()
    {
        var mounts = File.ReadAllLines("/proc/self/mounts")
            .Select(line => line.Split(' '))
            .Where(f => f[2] is "cgroup" or "cgroup2" && f[1].StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal))
            .OrderBy(f => f[2] == "cgroup2")
            .ThenBy(f => f[1], StringComparer.Ordinal)
            .Select(f => f[1]);

        Assert.Equal(mounts, _host.Partitions.Hierarchies());
        Assert.Equal("/sys/fs/cgroup/unified", _host.Partitions.Layout().V2Directory);
    }

    [Fact]
    public void Ensure_RealV1_MakesEveryHierarchysDirectoryAndTheKernelTakesAProcessIntoTheCpuset()
    {
        _host.Partitions.Ensure(Alice, 2048);

        Assert.All(_host.Partitions.Directories(Alice), d => Assert.True(Directory.Exists(d), d));
        Assert.Equal(File.ReadAllText("/sys/fs/cgroup/cpuset/cpuset.cpus"), File.ReadAllText(Path.Combine(_host.Directory("cpuset", Alice), "cpuset.cpus")));
        Assert.Equal(File.ReadAllText("/sys/fs/cgroup/cpuset/cpuset.mems"), File.ReadAllText(Path.Combine(_host.Directory("cpuset", Alice), "cpuset.mems")));
        Assert.Equal(new PartitionWeight(2048, null), _host.Partitions.ReadWeight(Alice));
        Assert.False(File.Exists(Path.Combine(_host.Directory("unified", Alice), "cpu.weight")));

        // A cpuset without CPUs or memory nodes refuses processes (ENOSPC): this write is what libvirt does with QEMU.
        using var burners = new Burners();
        var sleeper = burners.Start("sleep 60", _host.Directory("cpuset", Alice), _host.Directory("cpu", Alice));
        var cgroups = File.ReadAllText($"/proc/{sleeper.Id}/cgroup");
        Assert.Contains($":cpuset:/{_host.Partitions.Parent}/project-alice.partition\n", cgroups, StringComparison.Ordinal);
        Assert.Contains($":cpu:/{_host.Partitions.Parent}/project-alice.partition\n", cgroups, StringComparison.Ordinal);
    }

    [Fact]
    public void Ensure_AfterLibvirtRemovedThePartition_MakesItAgainWithItsWeight()
    {
        _host.Partitions.Ensure(Alice, 512);
        foreach (var directory in _host.Partitions.Directories(Alice))
        {
            Directory.Delete(directory);
        }

        _host.Partitions.Ensure(Alice, 512);

        Assert.All(_host.Partitions.Directories(Alice), d => Assert.True(Directory.Exists(d), d));
        Assert.Equal(new PartitionWeight(512, null), _host.Partitions.ReadWeight(Alice));
        Assert.NotEqual(string.Empty, File.ReadAllText(Path.Combine(_host.Directory("cpuset", Alice), "cpuset.cpus")).Trim());
    }
}
