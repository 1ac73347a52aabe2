using System.Text.Json;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>Root disks made by the real qemu-img (from qemu-utils).</summary>
public sealed class DiskManagerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly CommandRunner _runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);

    public void Dispose() => _dir.Dispose();

    private async Task<ImageStore> ImageAsync(string name, long bytes)
    {
        var images = Path.Combine(_dir.Path, "images");
        Directory.CreateDirectory(Path.Combine(images, name));
        await _runner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", Path.Combine(images, name, ImageStore.DiskFile), bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30), default);
        return new ImageStore(images);
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

        var path = await disks.PrepareRootDiskAsync("w-1", images.Find("base")!, 1L << 30, default);

        var info = await InfoAsync(path);
        Assert.Equal(1L << 30, info.GetProperty("virtual-size").GetInt64());
        Assert.Equal(images.Find("base")!.DiskPath, info.GetProperty("backing-filename").GetString());
        Assert.True(new FileInfo(path).Length < 1 << 20, "an overlay holds no data of its own yet");
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_Twice_SecondIsANoOp()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        var first = await disks.PrepareRootDiskAsync("w-1", images.Find("base")!, 0, default);
        var written = File.GetLastWriteTimeUtc(first);

        var second = await disks.PrepareRootDiskAsync("w-1", images.Find("base")!, 0, default);

        Assert.Equal(first, second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrepareRootDisk_SmallerThanImage_RefusedAndNothingLeft()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);

        var error = await Assert.ThrowsAsync<DiskException>(() => disks.PrepareRootDiskAsync("w-1", images.Find("base")!, 1L << 20, default));

        Assert.Contains("smaller than image base", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(disks.RootDiskPath("w-1")));
    }

    [Fact(Timeout = 30_000)]
    public async Task Remove_MissingOrTwice_IsFine()
    {
        var images = await ImageAsync("base", 64L << 20);
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        await disks.PrepareRootDiskAsync("w-1", images.Find("base")!, 0, default);

        disks.Remove("w-1");
        disks.Remove("w-1");
        disks.Remove("never-made");

        Assert.False(disks.Exists("w-1"));
    }

    [Fact]
    public void ImageStore_UnknownOrHostileName_NotFound()
    {
        var store = new ImageStore(_dir.Path);

        Assert.Null(store.Find("missing"));
        Assert.Null(store.Find("../../etc"));
    }
}
