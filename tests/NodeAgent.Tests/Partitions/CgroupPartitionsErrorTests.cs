using System.Diagnostics;
using NodeAgent.Agent.Partitions;

namespace NodeAgent.Tests.Partitions;

/// <summary>What the kernel refuses becomes an exception naming the path and the fix: a real read-only and a real full tmpfs shaped like cgroupfs.</summary>
public sealed class CgroupPartitionsErrorTests : IDisposable
{
    private static readonly string Alice = ProjectPartitions.PartitionFor("alice");
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "nodeagent-cgroupfs-" + Guid.NewGuid().ToString("N")[..12]);

    public CgroupPartitionsErrorTests()
    {
        Directory.CreateDirectory(_mount);
        Run("mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=64,mode=0755", "tmpfs", _mount);
        CgroupTree.V1(_mount);
    }

    public void Dispose()
    {
        Run("umount", _mount);
        Directory.Delete(_mount);
    }

    [Fact]
    public void Ensure_ReadOnlyCgroupfs_SaysEroFsAndToRemount()
    {
        Run("mount", "-o", "remount,ro", _mount);

        var e = Assert.Throws<CgroupPartitionException>(() => new CgroupPartitions(_mount).Ensure(Alice, 1024));

        Assert.Equal(Path.Combine(_mount, "blkio", "machine"), e.Path);
        Assert.StartsWith($"cannot create {e.Path}: the cgroup filesystem is read-only (EROFS)", e.Message, StringComparison.Ordinal);
        Assert.Contains("remount", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ensure_NoRoomForACgroup_SaysEnospcAndWhatToSet()
    {
        for (var i = 0; ; i++)
        {
            try
            {
                File.WriteAllText(Path.Combine(_mount, "filler" + i), string.Empty);
            }
            catch (IOException)
            {
                break;
            }
        }

        var e = Assert.Throws<CgroupPartitionException>(() => new CgroupPartitions(_mount).Ensure(Alice, 1024));

        Assert.Equal(Path.Combine(_mount, "blkio", "machine"), e.Path);
        Assert.Contains("no space (ENOSPC)", e.Message, StringComparison.Ordinal);
        Assert.Contains("set cpuset.cpus and cpuset.mems of its parent", e.Message, StringComparison.Ordinal);
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
    }
}
