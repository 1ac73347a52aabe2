using NodeAgent.Agent.Images;

namespace NodeAgent.Tests.Images;

/// <summary>The digest-keyed image cache against a real HTTP server on loopback and real files.</summary>
public sealed class ImageCacheTests : IAsyncLifetime
{
    private const int MiB = 1 << 20;

    /// <summary>rwxr-xr-x: QEMU's user must reach the images.</summary>
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101;
    private CacheHarness _h = null!;

    public async Task InitializeAsync() => _h = await CacheHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact(Timeout = 30_000)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Acquire_NotCached_FetchesAndKeepsTheVerifiedFileUnderItsDigestReadableByQemu()
    {
        var content = CacheHarness.Content(MiB, 1);
        var source = _h.Serve("base", content);
        var cache = _h.Cache();

        using var image = await cache.AcquireAsync(source, null, default);

        Assert.Equal(Path.Combine(_h.CacheDirectory, "sha256", source.Sha256), image.Path);
        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.Equal(new[] { source.Sha256 }, _h.Files());
        Assert.Equal(new[] { source.Sha256 }, cache.Digests());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(image.Path));
        Assert.Equal(DirectoryMode, File.GetUnixFileMode(Path.Combine(_h.CacheDirectory, "sha256")));
        Assert.Equal(DirectoryMode, File.GetUnixFileMode(_h.CacheDirectory));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_Cached_MakesNoRequestEvenAfterARestart()
    {
        var source = _h.Serve("base", CacheHarness.Content(MiB, 2));
        using (await _h.Cache().AcquireAsync(source, null, default))
        {
        }

        using var again = await _h.Cache().AcquireAsync(source, null, default);

        Assert.Equal(1, _h.Server.RequestsFor("base.qcow2"));
        Assert.Equal(source.Sha256, CacheHarness.Sha256OfFile(again.Path));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_EightCallersDuringOneDownload_ShareIt()
    {
        var content = CacheHarness.Content(2 * MiB, 3);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = _h.Serve("base", content, new Serving { Gate = gate.Task });
        var cache = _h.Cache();

        // The server holds the body at 64 KiB until the gate opens, so all eight ask while it is in flight.
        var callers = Enumerable.Range(0, 8).Select(_ => cache.AcquireAsync(source, null, default)).ToList();
        gate.SetResult();
        var images = await Task.WhenAll(callers);

        Assert.Equal(1, _h.Server.RequestsFor("base.qcow2"));
        Assert.All(images, i => Assert.Equal(cache.PathOf(source.Sha256), i.Path));
        Assert.Equal(content, await File.ReadAllBytesAsync(images[0].Path));
        Assert.All(images, i => i.Dispose());
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_TwoNamesForOneDigest_OneDownloadOneCopy()
    {
        var content = CacheHarness.Content(MiB, 4);
        var first = _h.Serve("a", content);
        var second = _h.Serve("b", content) with { Name = "other", Version = 7 };
        var cache = _h.Cache();

        using var a = await cache.AcquireAsync(first, null, default);
        using var b = await cache.AcquireAsync(second, null, default);

        Assert.Equal(a.Path, b.Path);
        Assert.Equal(new[] { first.Sha256 }, _h.Files());
        Assert.Equal(0, _h.Server.RequestsFor("b.qcow2"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_OneCallerGivesUp_TheDownloadGoesOnForTheOther()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = _h.Serve("base", CacheHarness.Content(MiB, 5), new Serving { Gate = gate.Task });
        var cache = _h.Cache();
        using var giveUp = new CancellationTokenSource();

        var quitter = cache.AcquireAsync(source, null, giveUp.Token);
        var stayer = cache.AcquireAsync(source, null, default);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitter);
        gate.SetResult();
        using var image = await stayer;

        Assert.Equal(source.Sha256, CacheHarness.Sha256OfFile(image.Path));
        Assert.Equal(1, _h.Server.RequestsFor("base.qcow2"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_EveryCallerGivesUp_DownloadStopsAndTheNextCallResumesIt()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = _h.Serve("base", CacheHarness.Content(MiB, 6), new Serving { Gate = gate.Task });
        var cache = _h.Cache();
        var partial = cache.PathOf(source.Sha256) + ".partial";
        using var giveUp = new CancellationTokenSource();
        var quitter = cache.AcquireAsync(source, null, giveUp.Token);
        while (!File.Exists(partial) || new FileInfo(partial).Length < 64 << 10)
        {
            await Task.Delay(10);
        }

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitter);
        gate.SetResult();
        using var image = await cache.AcquireAsync(source, null, default);

        Assert.Equal(source.Sha256, CacheHarness.Sha256OfFile(image.Path));
        Assert.Equal(new[] { null, "bytes=65536-" }, _h.Server.Requests.Select(r => r.Range));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_UnknownSize_EvictsTheLeastRecentlyUsedAfterTheDownload()
    {
        var cache = _h.Cache(maxBytes: 5 * MiB / 2);
        var old = _h.Serve("old", CacheHarness.Content(MiB, 7));
        var recent = _h.Serve("recent", CacheHarness.Content(MiB, 8));
        var unknown = _h.Serve("unknown", CacheHarness.Content(MiB, 9), declareSize: false);
        (await cache.AcquireAsync(old, null, default)).Dispose();
        _h.Clock.Advance(TimeSpan.FromMinutes(1));
        (await cache.AcquireAsync(recent, null, default)).Dispose();
        _h.Clock.Advance(TimeSpan.FromMinutes(1));

        using var image = await cache.AcquireAsync(unknown, null, default);

        Assert.Equal(new[] { recent.Sha256, unknown.Sha256 }.Order(StringComparer.Ordinal), cache.Digests());
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_CacheFull_EvictsLeastRecentlyUsedButNeverWhatWorkspacesOrCallersHold()
    {
        var cache = _h.Cache(maxBytes: 3 * MiB);
        var images = Enumerable.Range(0, 5).Select(i => _h.Serve($"i{i}", CacheHarness.Content(MiB, 10 + i))).ToArray();
        foreach (var i in new[] { 0, 1, 2 })
        {
            (await cache.AcquireAsync(images[i], null, default)).Dispose();
            _h.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        _h.WorkspaceDigests.Add(images[0].Sha256);
        var held = await cache.AcquireAsync(images[1], null, default); // now the most recent; held, not disposed
        _h.Clock.Advance(TimeSpan.FromMinutes(1));

        // i0 is the least recently used but a workspace uses it; i1 is held: i2 goes.
        (await cache.AcquireAsync(images[3], null, default)).Dispose();
        var afterFirst = cache.Digests();
        _h.Clock.Advance(TimeSpan.FromMinutes(1));
        held.Dispose();

        // Now i1 (used before i3) is free to go, and goes before i3.
        (await cache.AcquireAsync(images[4], null, default)).Dispose();

        Assert.Equal(new[] { images[0], images[1], images[3] }.Select(i => i.Sha256).Order(StringComparer.Ordinal), afterFirst);
        Assert.Equal(new[] { images[0], images[3], images[4] }.Select(i => i.Sha256).Order(StringComparer.Ordinal), cache.Digests());
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_EverythingPinned_FailsNamingThePinnedBytesAndTheOptionWithoutDownloading()
    {
        var cache = _h.Cache(maxBytes: 2 * MiB);
        var a = _h.Serve("a", CacheHarness.Content(MiB, 20));
        var b = _h.Serve("b", CacheHarness.Content(MiB, 21));
        var c = _h.Serve("c", CacheHarness.Content(MiB, 22));
        (await cache.AcquireAsync(a, null, default)).Dispose();
        (await cache.AcquireAsync(b, null, default)).Dispose();
        _h.WorkspaceDigests.UnionWith([a.Sha256, b.Sha256]);

        var e = await Assert.ThrowsAsync<ImageException>(() => cache.AcquireAsync(c, null, default));

        Assert.Equal(ImageFailure.CacheFull, e.Failure);
        Assert.Contains("c:1", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{2 * MiB} bytes of it are 2 images that workspaces on this host use", e.Message, StringComparison.Ordinal);
        Assert.Contains("--image-cache-size", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _h.Server.RequestsFor("c.qcow2"));
        Assert.Equal(new[] { a.Sha256, b.Sha256 }.Order(StringComparer.Ordinal), cache.Digests());
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_FileSource_CopiesAndVerifies()
    {
        var content = CacheHarness.Content(MiB, 23);
        var file = Path.Combine(_h.Root, "published.qcow2");
        await File.WriteAllBytesAsync(file, content);
        var source = CacheHarness.Source("local", content, new Uri("file://" + file));

        using var image = await _h.Cache().AcquireAsync(source, null, default);

        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.True(File.Exists(file));
    }

    [Fact(Timeout = 30_000)]
    public async Task Acquire_FileSourceMissing_FailsNamingThePath()
    {
        var content = CacheHarness.Content(1024, 24);
        var source = CacheHarness.Source("local", content, new Uri("file:///nonexistent/image.qcow2"));

        var e = await Assert.ThrowsAsync<ImageException>(() => _h.Cache().AcquireAsync(source, null, default));

        Assert.Equal(ImageFailure.NotAvailable, e.Failure);
        Assert.Contains("/nonexistent/image.qcow2", e.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Adopt_FileWithItsDigest_MovedInAndServedWithoutARequest()
    {
        var content = CacheHarness.Content(MiB, 25);
        var file = Path.Combine(_h.Root, "saved.qcow2");
        await File.WriteAllBytesAsync(file, content);
        var cache = _h.Cache();

        var path = await cache.AdoptAsync(file, CacheHarness.Sha256(content), default);
        using var image = await cache.AcquireAsync(CacheHarness.Source("saved", content, new Uri(_h.Server.Address, "nothing-here")), null, default);

        Assert.False(File.Exists(file));
        Assert.Equal(cache.PathOf(CacheHarness.Sha256(content)), path);
        Assert.Equal(path, image.Path);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
        Assert.Empty(_h.Server.Requests);
    }

    [Fact(Timeout = 30_000)]
    public async Task Adopt_WrongDigest_RefusedAndTheFileLeftWhereItWas()
    {
        var content = CacheHarness.Content(MiB, 26);
        var file = Path.Combine(_h.Root, "saved.qcow2");
        await File.WriteAllBytesAsync(file, content);
        var claimed = CacheHarness.Sha256(CacheHarness.Content(MiB, 27));
        var cache = _h.Cache();

        var e = await Assert.ThrowsAsync<ImageException>(() => cache.AdoptAsync(file, claimed, default));

        Assert.Equal(ImageFailure.DigestMismatch, e.Failure);
        Assert.Contains(CacheHarness.Sha256(content), e.Message, StringComparison.Ordinal);
        Assert.Contains(claimed, e.Message, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        Assert.Empty(_h.Files());
    }
}
