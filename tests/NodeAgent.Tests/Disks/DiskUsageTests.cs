using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Images;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Disks;

/// <summary><see cref="DiskManager.Measure"/> on real disks, checked against qemu-img's sizes and du's count.</summary>
public sealed class DiskUsageTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly QemuTools _qemu = new();
    private readonly DiskManager _disks;

    public DiskUsageTests() => _disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _qemu.Runner);

    public void Dispose() => _dir.Dispose();

    /// <summary>A 256 MiB raw base with 8 MiB of real (non-sparse) data, outside the workspace's directory.</summary>
    private BaseImage Base()
    {
        var path = Path.Combine(_dir.Path, "base.raw");
        QemuTools.CreateRaw(path, 256L << 20, Enumerable.Repeat((byte)0xa5, 8 << 20).ToArray());
        return new BaseImage("base", path, null, null, null, ImageFormat.Raw);
    }

    [Fact]
    public void Measure_NoSuchWorkspace_Zeros()
    {
        Assert.Equal(DiskUsage.None, _disks.Measure("never-made"));
        Assert.Equal(DiskUsage.None, new DiskManager(Path.Combine(_dir.Path, "no-such-directory"), _qemu.Runner).Measure("w-1"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Measure_RootAndDataDisks_AllocatedIsTheirVirtualSizesUsedIsWhatDuCounts()
    {
        var root = await _disks.PrepareRootDiskAsync("w-1", Base(), 1L << 30, default);
        var data = await _disks.PrepareDataDisksAsync("w-1", [2L << 30, 64L << 20], default);
        File.WriteAllText(_disks.ConsoleLogPath("w-1"), "boot\n");

        var usage = _disks.Measure("w-1");

        long expected = 0;
        foreach (var disk in data.Prepend(root))
        {
            expected += (await _qemu.InfoAsync(disk)).GetProperty("virtual-size").GetInt64();
        }

        Assert.Equal((1L << 30) + (2L << 30) + (64L << 20), expected);
        Assert.Equal(expected, usage.AllocatedBytes);
        Assert.Equal(await _qemu.DuAsync(_disks.WorkspaceDirectory("w-1")), usage.UsedBytes);
        Assert.True(usage.UsedBytes < 4 << 20, $"fresh overlays occupy little and the base's 8 MiB are not the workspace's: {usage.UsedBytes} bytes");
    }

    [Fact(Timeout = 30_000)]
    public async Task Measure_AfterTheGuestWrites4MiB_UsedGrowsByThemAllocatedStays()
    {
        await _disks.PrepareRootDiskAsync("w-1", Base(), 0, default);
        var data = await _disks.PrepareDataDisksAsync("w-1", [64L << 20], default);
        var before = _disks.Measure("w-1");

        await _qemu.WriteAsync(data[0], 4 << 20);

        var after = _disks.Measure("w-1");
        Assert.Equal(before.AllocatedBytes, after.AllocatedBytes);
        Assert.InRange(after.UsedBytes - before.UsedBytes, 4L << 20, 5L << 20);
        Assert.Equal(await _qemu.DuAsync(_disks.WorkspaceDirectory("w-1")), after.UsedBytes);
    }

    [Fact(Timeout = 30_000)]
    public async Task Measure_PartialLeftoverAndASymlinkToTheBase_LeftoverCountsAsUsedOnlyLinkItselfCounts()
    {
        var image = Base();
        await _disks.PrepareDataDisksAsync("w-1", [64L << 20], default);
        var partial = _disks.DataDiskPath("w-1", 1) + ".partial";
        await _qemu.CreateQcow2Async(partial, 1L << 30);
        File.CreateSymbolicLink(Path.Combine(_disks.WorkspaceDirectory("w-1"), "base-link"), image.DiskPath);
        Directory.CreateDirectory(Path.Combine(_disks.WorkspaceDirectory("w-1"), "seed"));
        File.WriteAllBytes(Path.Combine(_disks.WorkspaceDirectory("w-1"), "seed", "user-data"), new byte[100_000]);

        var usage = _disks.Measure("w-1");

        Assert.Equal(64L << 20, usage.AllocatedBytes);
        Assert.Equal(await _qemu.DuAsync(_disks.WorkspaceDirectory("w-1")), usage.UsedBytes);
        Assert.InRange(usage.UsedBytes, (HostFileSpace.OccupiedBytes(partial) ?? 0) + 100_000, 8L << 20);
    }

    [Fact]
    public void Measure_RootDiskWithAGarbageHeader_CountsNothingAllocatedAndDoesNotThrow()
    {
        Directory.CreateDirectory(_disks.WorkspaceDirectory("w-1"));
        File.WriteAllText(_disks.RootDiskPath("w-1"), "not a qcow2 header at all, just text");

        var usage = _disks.Measure("w-1");

        Assert.Equal(0, usage.AllocatedBytes);
        Assert.True(usage.UsedBytes > 0);
    }
}
