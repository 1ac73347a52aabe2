using System.Text.Json;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;
using NodeAgent.Tests.Disks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>Root disks made by the real qemu-img (from qemu-utils).</summary>
public sealed class DiskManagerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly QemuTools _qemu = new();

    private static readonly byte[] Marker = "NODEAGENT-BASE-MARKER"u8.ToArray();

    private readonly CommandRunner _runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);

    public void Dispose() => _dir.Dispose();

    private async Task<BaseImage> ImageAsync(string name, long bytes)
    {
        var images = Path.Combine(_dir.Path, "images");
        Directory.CreateDirectory(images);
        var disk = Path.Combine(images, name + ".qcow2");
        await _runner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", disk, bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30), default);
        return new BaseImage(name, disk, null, null, null);
    }

    private async Task<JsonElement> InfoAsync(string path)
    {
        var json = await _runner.RunCheckedAsync("qemu-img", ["info", "--output=json", "-U", path], TimeSpan.FromSeconds(30), default);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_LargerThanImage_OverlayOnTheBaseGrownToTheRequest()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var path = await disks.PrepareRootDiskAsync("w-1", images, 1L << 30, default);

        var info = await InfoAsync(path);
        Assert.Equal(1L << 30, info.GetProperty("virtual-size").GetInt64());
        Assert.Equal(images.DiskPath, info.GetProperty("backing-filename").GetString());
        Assert.True(new FileInfo(path).Length < 1 << 20, "an overlay holds no data of its own yet");
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_Twice_SecondIsANoOp()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        var first = await disks.PrepareRootDiskAsync("w-1", images, 0, default);
        var written = File.GetLastWriteTimeUtc(first);

        var second = await disks.PrepareRootDiskAsync("w-1", images, 0, default);

        Assert.Equal(first, second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_SmallerThanImage_RefusedAndNothingLeft()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var error = await Assert.ThrowsAsync<DiskException>(() => disks.PrepareRootDiskAsync("w-1", images, 1L << 20, default));

        Assert.Contains("smaller than image base", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(disks.RootDiskPath("w-1")));
    }

    [Fact(Timeout = 30_000)]
    public async Task Remove_MissingOrTwice_IsFine()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        await disks.PrepareRootDiskAsync("w-1", images, 0, default);

        disks.Remove("w-1");
        disks.Remove("w-1");
        disks.Remove("never-made");

        Assert.False(disks.Exists("w-1"));
    }

    /// <summary>
    /// A raw base whose first bytes look like a qcow2 header (a guest can write anything to its disk): probed, qemu
    /// would take it for qcow2 and fail to open it; with the format named, the guest reads back exactly its bytes.
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_RawBase_OverlayNamesRawAndReadsTheBaseAsIs()
    {
        var content = new byte[128];
        new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3 }.CopyTo(content, 0);
        Marker.CopyTo(content.AsSpan(64));
        var basePath = Path.Combine(_dir.Path, "base.raw");
        QemuTools.CreateRaw(basePath, 64L << 20, content);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var path = await disks.PrepareRootDiskAsync("w-1", new BaseImage("raw", basePath, null, null, null, ImageFormat.Raw), 1L << 30, default);

        var info = await _qemu.InfoAsync(path);
        Assert.Equal("raw", info.GetProperty("backing-filename-format").GetString());
        Assert.Equal(basePath, info.GetProperty("backing-filename").GetString());
        Assert.Equal(1L << 30, info.GetProperty("virtual-size").GetInt64());
        Assert.Equal(content, await _qemu.ReadAsync(path, content.Length));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_Qcow2BaseWithContent_OverlayNamesQcow2AndReadsTheBase()
    {
        var raw = Path.Combine(_dir.Path, "content.raw");
        QemuTools.CreateRaw(raw, 64L << 20, Marker);
        var basePath = Path.Combine(_dir.Path, "base.qcow2");
        await _qemu.ConvertToQcow2Async(raw, basePath);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var path = await disks.PrepareRootDiskAsync("w-1", new BaseImage("q", basePath, null, null, null, ImageFormat.Qcow2), 0, default);

        var info = await _qemu.InfoAsync(path);
        Assert.Equal("qcow2", info.GetProperty("backing-filename-format").GetString());
        Assert.Equal(64L << 20, info.GetProperty("virtual-size").GetInt64());
        Assert.Equal(Marker, await _qemu.ReadAsync(path, Marker.Length));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_RawFileListedAsQcow2_RefusedNamingTheFix()
    {
        var basePath = Path.Combine(_dir.Path, "base.raw");
        QemuTools.CreateRaw(basePath, 64L << 20, Marker);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var error = await Assert.ThrowsAsync<DiskException>(() => disks.PrepareRootDiskAsync("w-1", new BaseImage("b", basePath, null, null, null, ImageFormat.Qcow2), 0, default));

        Assert.Contains("has no qcow2 header", error.Message, StringComparison.Ordinal);
        Assert.Contains("fetched again", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(disks.RootDiskPath("w-1")));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_MissingBase_DiskExceptionNamingTheImage()
    {
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var error = await Assert.ThrowsAsync<DiskException>(() => disks.PrepareRootDiskAsync("w-1", new BaseImage("gone", Path.Combine(_dir.Path, "gone.raw"), null, null, null, ImageFormat.Raw), 0, default));

        Assert.Contains("cannot read image gone", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_LeftoverPartialOfACrash_ReplacedByAWholeDisk()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        Directory.CreateDirectory(disks.WorkspaceDirectory("w-1"));
        File.WriteAllText(disks.RootDiskPath("w-1") + ".partial", "half a header");

        var path = await disks.PrepareRootDiskAsync("w-1", images, 0, default);

        Assert.Equal(64L << 20, (await InfoAsync(path)).GetProperty("virtual-size").GetInt64());
        Assert.False(File.Exists(path + ".partial"));
    }

    [Fact]
    public void DigestsInUse_RecordedPerWorkspace_UnionOfEveryWorkspacesRecordAndNothingForOneWithout()
    {
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        disks.RecordImages("w-1", [new string('a', 64), new string('b', 64)]);
        disks.RecordImages("w-2", [new string('b', 64)]);
        disks.RecordImages("w-2", [new string('c', 64)]);
        Directory.CreateDirectory(disks.WorkspaceDirectory("w-3"));

        var inUse = disks.DigestsInUse();
        disks.Remove("w-1");

        Assert.Equal([new string('a', 64), new string('b', 64), new string('c', 64)], inUse.Order());
        Assert.Equal([new string('c', 64)], disks.DigestsInUse());
        Assert.False(File.Exists(Path.Combine(disks.WorkspaceDirectory("w-2"), "images.partial")));
    }
}
