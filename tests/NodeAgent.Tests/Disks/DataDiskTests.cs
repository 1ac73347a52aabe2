using NodeAgent.Agent.Disks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Disks;

/// <summary>Blank data disks made by the real qemu-img.</summary>
public sealed class DataDiskTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly QemuTools _qemu = new();
    private readonly DiskManager _disks;

    public DataDiskTests() => _disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _qemu.Runner);

    public void Dispose() => _dir.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_TwoSizes_BlankQcow2DisksOfThoseSizesInOrder()
    {
        var paths = await _disks.PrepareDataDisksAsync("w-1", [1L << 30, 64L << 20], default);

        Assert.Equal([_disks.DataDiskPath("w-1", 0), _disks.DataDiskPath("w-1", 1)], paths);
        Assert.Equal(Path.Combine(_disks.WorkspaceDirectory("w-1"), "data-1.qcow2"), paths[1]);
        var first = await _qemu.InfoAsync(paths[0]);
        var second = await _qemu.InfoAsync(paths[1]);
        Assert.Equal("qcow2", first.GetProperty("format").GetString());
        Assert.Equal(1L << 30, first.GetProperty("virtual-size").GetInt64());
        Assert.Equal(64L << 20, second.GetProperty("virtual-size").GetInt64());
        Assert.False(first.TryGetProperty("backing-filename", out _), "a data disk stands on nothing");
        Assert.Equal(new byte[512], await _qemu.ReadAsync(paths[0], 512));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_Twice_SecondLeavesTheDisksAndTheirDataAlone()
    {
        var paths = await _disks.PrepareDataDisksAsync("w-1", [64L << 20, 64L << 20], default);
        await _qemu.WriteAsync(paths[1], 1 << 20);
        var written = paths.Select(File.GetLastWriteTimeUtc).ToList();

        var again = await _disks.PrepareDataDisksAsync("w-1", [64L << 20, 64L << 20], default);

        Assert.Equal(paths, again);
        Assert.Equal(written, again.Select(File.GetLastWriteTimeUtc));
        Assert.Equal(Enumerable.Repeat((byte)0x5a, 512), await _qemu.ReadAsync(paths[1], 512));
    }

    /// <summary>A crash after the first disk and half-way through the second: the next prepare finishes the job.</summary>
    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_AfterACrashMidway_LeftoverPartialReplacedFirstDiskKept()
    {
        var first = (await _disks.PrepareDataDisksAsync("w-1", [64L << 20], default))[0];
        var firstWritten = File.GetLastWriteTimeUtc(first);
        var partial = _disks.DataDiskPath("w-1", 1) + ".partial";
        File.WriteAllText(partial, "half a header");

        var paths = await _disks.PrepareDataDisksAsync("w-1", [64L << 20, 128L << 20], default);

        Assert.Equal(firstWritten, File.GetLastWriteTimeUtc(paths[0]));
        Assert.Equal(128L << 20, (await _qemu.InfoAsync(paths[1])).GetProperty("virtual-size").GetInt64());
        Assert.False(File.Exists(partial));
        Assert.Equal(["data-0.qcow2", "data-1.qcow2"], Directory.GetFiles(_disks.WorkspaceDirectory("w-1")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_None_CreatesNothing()
    {
        var paths = await _disks.PrepareDataDisksAsync("w-1", [], default);

        Assert.Empty(paths);
        Assert.False(_disks.Exists("w-1"));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_NonPositiveSize_RefusedNamingEveryDiskBeforeCreatingAny()
    {
        var error = await Assert.ThrowsAsync<DiskException>(() => _disks.PrepareDataDisksAsync("w-1", [64L << 20, 0, -1], default));

        Assert.Contains("data disk 1 has 0 bytes; data disk 2 has -1 bytes", error.Message, StringComparison.Ordinal);
        Assert.False(_disks.Exists("w-1"));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareDataDisks_SizeQemuImgRefuses_DiskExceptionAndNoPartialLeft()
    {
        var error = await Assert.ThrowsAsync<DiskException>(() => _disks.PrepareDataDisksAsync("w-1", [long.MaxValue], default));

        Assert.Contains("creating the data disk 0 of workspace w-1 failed", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_disks.WorkspaceDirectory("w-1")));
    }
}
