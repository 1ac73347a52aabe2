using NodeAgent.Agent.Images;

namespace NodeAgent.Tests.Images;

/// <summary>Fetching through the cache from a real HTTP server that misbehaves in the ways repositories do.</summary>
public sealed class ImageFetchTests : IAsyncLifetime
{
    private const int MiB = 1 << 20;
    private CacheHarness _h = null!;

    public async Task InitializeAsync() => _h = await CacheHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact(Timeout = 30_000)]
    public async Task Fetch_ConnectionDroppedTwice_ResumesWithRangeAndNeverCachesTheTruncatedFile()
    {
        var content = CacheHarness.Content(2 * MiB, 1);
        var source = _h.Serve("base", content, new Serving { TruncateAfter = 512 << 10, TruncateTimes = 2 });

        using var image = await _h.Cache().AcquireAsync(source, null, default);

        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        var ranges = _h.Server.Requests.Select(r => r.Range).ToList();
        Assert.Equal(new[] { null, "bytes=524288-", "bytes=1048576-" }, ranges);
        Assert.True(_h.Server.BytesSent < 2L * content.Length, $"{_h.Server.BytesSent} bytes sent for a {content.Length}-byte image");
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_ServerIgnoresRange_StartsOverFromTheFullAnswer()
    {
        var content = CacheHarness.Content(2 * MiB, 2);
        var source = _h.Serve("base", content, new Serving { TruncateAfter = 512 << 10, TruncateTimes = 1, IgnoreRange = true });

        using var image = await _h.Cache().AcquireAsync(source, null, default);

        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.Equal(new[] { 200, 200 }, _h.Server.Requests.Select(r => r.Status));
        Assert.Equal("bytes=524288-", _h.Server.Requests[1].Range);
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_ServerErrorsThenAnswers_Retries()
    {
        var content = CacheHarness.Content(MiB, 3);
        var source = _h.Serve("base", content, new Serving { FailTimes = 2 });

        using var image = await _h.Cache().AcquireAsync(source, null, default);

        Assert.Equal(new[] { 500, 500, 200 }, _h.Server.Requests.Select(r => r.Status));
        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_NotFound_FailsAtOnceNamingTheUrlAndTheStatus()
    {
        var source = CacheHarness.Source("gone", CacheHarness.Content(1024, 4), new Uri(_h.Server.Address, "gone.qcow2"));

        var e = await Assert.ThrowsAsync<ImageException>(() => _h.Cache().AcquireAsync(source, null, default));

        Assert.Equal(ImageFailure.NotAvailable, e.Failure);
        Assert.Contains(source.Url.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", e.Message, StringComparison.Ordinal);
        Assert.Single(_h.Server.Requests);
        Assert.Empty(_h.Files());
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_Unreachable_FailsAfterTheAttemptsNamingTheUrlAndTheLastError()
    {
        var source = CacheHarness.Source("far", CacheHarness.Content(1024, 5), ImageServer.Unreachable());

        var e = await Assert.ThrowsAsync<ImageException>(() => _h.Cache(attempts: 3).AcquireAsync(source, null, default));

        Assert.Equal(ImageFailure.Unreachable, e.Failure);
        Assert.Contains(source.Url.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("in 3 attempts", e.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", e.Message, StringComparison.Ordinal);
        Assert.Empty(_h.Cache().Digests());
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_WrongBytes_RefusedNamingBothDigestsAndTheFixAndNothingIsLeft()
    {
        var registered = CacheHarness.Content(MiB, 6);
        var served = CacheHarness.Content(MiB, 7);
        var source = CacheHarness.Source("base", registered, _h.Server.Serve("base.qcow2", served));

        var e = await Assert.ThrowsAsync<ImageException>(() => _h.Cache().AcquireAsync(source, null, default));

        Assert.Equal(ImageFailure.DigestMismatch, e.Failure);
        Assert.Contains($"image base:1 from {source.Url}", e.Message, StringComparison.Ordinal);
        Assert.Contains(CacheHarness.Sha256(served), e.Message, StringComparison.Ordinal);
        Assert.Contains(CacheHarness.Sha256(registered), e.Message, StringComparison.Ordinal);
        Assert.Contains("ws image add", e.Message, StringComparison.Ordinal);
        Assert.Empty(_h.Files());
        Assert.Single(_h.Server.Requests);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Fetch_LargerThanDeclared_StopsAndRemovesThePartialFile(bool chunked)
    {
        var served = CacheHarness.Content(2 * MiB, 8);
        var source = CacheHarness.Source("base", served, _h.Server.Serve("base.qcow2", served, new Serving { Chunked = chunked })) with { SizeBytes = 512 << 10 };

        var e = await Assert.ThrowsAsync<ImageException>(() => _h.Cache().AcquireAsync(source, null, default));

        Assert.Equal(ImageFailure.TooLarge, e.Failure);
        Assert.Contains("524288 bytes the catalogue declares", e.Message, StringComparison.Ordinal);
        Assert.Empty(_h.Files());
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_LeftoverPartialFromAnEarlierRun_NotServedButResumed()
    {
        var content = CacheHarness.Content(2 * MiB, 9);
        var source = _h.Serve("base", content);
        var cache = _h.Cache();
        var partial = cache.PathOf(source.Sha256) + ".partial";
        await File.WriteAllBytesAsync(partial, content[..MiB]);
        var restarted = _h.Cache();

        var before = restarted.Digests();
        using var image = await restarted.AcquireAsync(source, null, default);

        Assert.Empty(before);
        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.Equal("bytes=1048576-", _h.Server.Requests.Single().Range);
        Assert.Equal(MiB, _h.Server.BytesSent);
        Assert.Equal(new[] { source.Sha256 }, _h.Files());
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_LeftoverPartialIsTheWholeImageOfUnknownSize_VerifiedWhenTheServerRefusesTheRange()
    {
        var content = CacheHarness.Content(MiB, 14);
        var source = _h.Serve("base", content, declareSize: false);
        var cache = _h.Cache();
        await File.WriteAllBytesAsync(cache.PathOf(source.Sha256) + ".partial", content);

        using var image = await cache.AcquireAsync(source, null, default);

        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.Equal(new[] { new ServedRequest("/base.qcow2", "bytes=1048576-", 416) }, _h.Server.Requests);
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_LeftoverPartialWithWrongBytes_FetchedWholeOnceMore()
    {
        var content = CacheHarness.Content(2 * MiB, 10);
        var source = _h.Serve("base", content);
        var cache = _h.Cache();
        await File.WriteAllBytesAsync(cache.PathOf(source.Sha256) + ".partial", CacheHarness.Content(MiB, 11));

        using var image = await cache.AcquireAsync(source, null, default);

        Assert.Equal(content, await File.ReadAllBytesAsync(image.Path));
        Assert.Equal(new[] { "bytes=1048576-", null }, _h.Server.Requests.Select(r => r.Range));
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_ClockStandsStill_ReportsOnlyTheStartAndTheEnd()
    {
        var content = CacheHarness.Content(2 * MiB, 12);
        var source = _h.Serve("base", content);
        var progress = new ProgressLog();

        using var image = await _h.Cache().AcquireAsync(source, progress, default);

        Assert.Equal(new[] { new ImageFetchProgress(0, content.Length), new ImageFetchProgress(content.Length, content.Length) }, progress.Reports);
    }

    [Fact(Timeout = 30_000)]
    public async Task Fetch_ClockMoving_ReportsInBetweenButNotEveryRead()
    {
        var content = CacheHarness.Content(4 * MiB, 13);
        var source = _h.Serve("base", content);
        var clock = new SteppingClock(TimeSpan.FromMilliseconds(100));
        var progress = new ProgressLog();

        using var image = await _h.Cache(time: clock).AcquireAsync(source, progress, default);

        var reports = progress.Reports;
        Assert.InRange(reports.Count, 3, clock.Readings / 2);
        Assert.Equal(reports.Select(r => r.BytesDone).Order(), reports.Select(r => r.BytesDone));
        Assert.Equal(content.Length, reports[^1].BytesDone);
    }

    /// <summary>A clock that moves on by a fixed step each time it is read.</summary>
    private sealed class SteppingClock(TimeSpan step) : TimeProvider
    {
        private long _readings;

        public int Readings => (int)Interlocked.Read(ref _readings);

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero) + step * Interlocked.Increment(ref _readings);
    }
}
