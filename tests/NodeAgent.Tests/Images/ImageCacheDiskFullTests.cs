using System.Diagnostics;
using NodeAgent.Agent.Images;

namespace NodeAgent.Tests.Images;

/// <summary>The cache on a real 4 MiB tmpfs, filled up by a download.</summary>
public sealed class ImageCacheDiskFullTests : IAsyncLifetime
{
    private const int MiB = 1 << 20;
    private CacheHarness _h = null!;
    private string _mount = null!;

    public async Task InitializeAsync()
    {
        _h = await CacheHarness.StartAsync();
        _mount = Path.Combine(_h.Root, "small");
        Directory.CreateDirectory(_mount);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", _mount);
    }

    public async Task DisposeAsync()
    {
        await RunAsync("umount", _mount);
        await _h.DisposeAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_UnknownSizeFillsTheDisk_ClearErrorNoPartialAndTheOtherImageIntact()
    {
        var cache = _h.Cache(directory: _mount);
        var small = _h.Serve("small", CacheHarness.Content(256 << 10, 1));
        var big = _h.Serve("big", CacheHarness.Content(16 * MiB, 2), declareSize: false);
        (await cache.AcquireAsync(small, null, default)).Dispose();

        var e = await Assert.ThrowsAsync<ImageException>(() => cache.AcquireAsync(big, null, default));

        Assert.Equal(ImageFailure.DiskFull, e.Failure);
        Assert.Contains(_mount, e.Message, StringComparison.Ordinal);
        Assert.Contains("image big:1 (of unknown size", e.Message, StringComparison.Ordinal);
        Assert.Contains("bytes are free there", e.Message, StringComparison.Ordinal);
        Assert.Contains("free space on that filesystem or lower --image-cache-size", e.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { small.Sha256 }, CacheHarness.Files(_mount));
        Assert.Equal(small.Sha256, CacheHarness.Sha256OfFile(cache.PathOf(small.Sha256)));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_KnownSizeLargerThanTheFreeSpace_FailsBeforeAnyRequest()
    {
        var cache = _h.Cache(directory: _mount);
        var big = _h.Serve("big", CacheHarness.Content(16 * MiB, 3));

        var e = await Assert.ThrowsAsync<ImageException>(() => cache.AcquireAsync(big, null, default));

        Assert.Equal(ImageFailure.DiskFull, e.Failure);
        Assert.Contains(_mount, e.Message, StringComparison.Ordinal);
        Assert.Contains($"image big:1 ({16 * MiB} bytes)", e.Message, StringComparison.Ordinal);
        Assert.Contains("--image-cache-size", e.Message, StringComparison.Ordinal);
        Assert.Empty(_h.Server.Requests);
        Assert.Empty(CacheHarness.Files(_mount));
    }

    [Fact(Timeout = 30_000)]
    public async Task Adopt_FromAnotherFilesystem_CopiedVerifiedAndTheOriginalRemoved()
    {
        var content = CacheHarness.Content(MiB, 4);
        var file = Path.Combine(_h.Root, "saved.qcow2");
        await File.WriteAllBytesAsync(file, content);
        var cache = _h.Cache(directory: _mount);

        var path = await cache.AdoptAsync(file, CacheHarness.Sha256(content), default);

        Assert.StartsWith(_mount, path, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
        Assert.False(File.Exists(file));
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
    }
}
