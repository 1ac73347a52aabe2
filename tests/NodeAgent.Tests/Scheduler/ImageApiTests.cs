using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The image catalogue through the scheduler's real ImageService over gRPC, with the caller named in its header.</summary>
public sealed class ImageApiTests : IAsyncLifetime
{
    internal static readonly string DigestA = new('a', 64);
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private ImageServiceClient _images = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: _clock, emptyCatalogue: true);
        _channel = new RpcChannel(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", "alice" } } });
        _images = new ImageServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    internal static AddImageRequest Request(string name, ImageFormat format = ImageFormat.Unspecified, string kernel = "", string initrd = "", string cmdline = "") => new()
    {
        Name = name,
        Url = $"https://images.example/{name}",
        Sha256 = DigestA,
        SizeBytes = 64UL << 20,
        Format = format,
        Kernel = kernel,
        Initrd = initrd,
        KernelCmdline = cmdline,
    };

    private Task<Image> AddAsync(AddImageRequest request) => _images.AddImageAsync(request);

    private async Task<RpcException> RefusedAsync(AddImageRequest request, StatusCode status = StatusCode.InvalidArgument)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _images.AddImageAsync(request));
        Assert.Equal(status, error.Status);
        return error;
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_NewNameThenAgain_VersionsOneAndTwoOwnedByTheCallerAsQcow2()
    {
        var first = await AddAsync(Request("debian-12"));
        var again = Request("debian-12");
        again.SizeBytes = 0;
        again.Description = "with the lab's tools";
        var second = await AddAsync(again);

        Assert.Equal((1u, 2u), (first.Version, second.Version));
        Assert.Equal(("alice", ImageFormat.Qcow2, ImageState.Active), (first.Owner, first.Format, first.State));
        Assert.Equal((64UL << 20, DigestA, "https://images.example/debian-12"), (first.SizeBytes, first.Sha256, first.Url));
        Assert.Equal(_clock.GetUtcNow(), first.CreatedAt.ToDateTimeOffset());
        Assert.Null(first.RetiredAt);
        Assert.Equal((0UL, "with the lab's tools"), (second.SizeBytes, second.Description));
    }

    [Fact(Timeout = 20_000)]
    public async Task AddImage_ConcurrentAddsOfOneName_GetDistinctVersions()
    {
        var added = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => AddAsync(Request("busy"))));

        Assert.Equal(Enumerable.Range(1, 16).Select(v => (uint)v), added.Select(i => i.Version).Order());
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_EveryValueWrong_InvalidArgumentListingEachField()
    {
        var request = new AddImageRequest
        {
            Name = "Debian 12",
            Url = "ftp://images.example/x",
            Sha256 = "ABC",
            SizeBytes = (16UL << 40) + 1,
            Format = (ImageFormat)9,
            Kernel = "vmlinuz:latest",
            Initrd = "initrd:0",
            KernelCmdline = "console=ttyS0\n",
            Description = "tab\there",
        };

        var error = await RefusedAsync(request);

        Assert.StartsWith("AddImage: ", error.Message, StringComparison.Ordinal);
        foreach (var field in new[] { "name 'Debian 12'", "url 'ftp://", "sha256 'ABC' is not a sha256 digest", "size_bytes is 17592186044417", "format is 9", "kernel 'vmlinuz:latest'", "initrd 'initrd:0'", "kernel_cmdline may hold printable ASCII only", "description must be at most" })
        {
            Assert.Contains(field, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_NothingGiven_NamesTheMissingRequiredValues()
    {
        var error = await RefusedAsync(new AddImageRequest());

        Assert.Contains("name is empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("url is empty; give an http://, https:// or file:// URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("sha256 '' is not a sha256 digest", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("name", "../../etc/passwd", "name '../../etc/passwd' has '.' at position 0")]
    [InlineData("name", "debian\0x", "name 'debian\\u0000x' has '\\u0000' at position 6")]
    [InlineData("name", "<img>", "name '<img>' has '<'")]
    [InlineData("url", "file:///srv/../etc/shadow", "url 'file:///srv/../etc/shadow' has a '.' or '..' path segment")]
    [InlineData("url", "https://images.example/a/%2E%2e/b", "has a '.' or '..' path segment")]
    [InlineData("url", "file://host/share/x", "is not a file:///absolute/path")]
    [InlineData("url", "https://images.example/a\0b", "url 'https://images.example/a\\u0000b' has a space or control character")]
    [InlineData("url", "https://user:secret@images.example/x", "url carries credentials")]
    [InlineData("url", "overlong", "url is 3000 characters long; at most 2048 are allowed")]
    [InlineData("kernel_cmdline", "console=ttyS0 init=/bin/sh'<x>&", "kernel_cmdline may hold printable ASCII only, without quotes")]
    [InlineData("description", "a\0b", "description must be at most 512 characters without control characters")]
    [InlineData("kernel", "../vmlinuz", "kernel name '../vmlinuz' has '.' at position 0")]
    [InlineData("initrd", "initrd\0", "initrd name 'initrd\\u0000' has '\\u0000'")]
    public async Task AddImage_HostileValue_InvalidArgumentNamingTheFieldWithoutEchoingControlCharacters(string field, string value, string expected)
    {
        var request = Request("ok-name", kernel: field == "kernel_cmdline" ? "vmlinuz" : "");
        var text = value == "overlong" ? "https://images.example/" + new string('a', 3000 - 23) : value;
        switch (field)
        {
            case "name": request.Name = text; break;
            case "url": request.Url = text; break;
            case "kernel_cmdline": request.KernelCmdline = text; break;
            case "description": request.Description = text; break;
            case "kernel": request.Kernel = text; break;
            default: request.Kernel = "vmlinuz"; request.Initrd = text; break;
        }

        var error = await RefusedAsync(request);

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', error.Message);
        Assert.Empty((await _images.ListImagesAsync(new ListImagesRequest { IncludeRetired = true })).Images);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_KernelByName_ResolvedToTheNewestActiveVersionAndStoredExactly()
    {
        await AddAsync(Request("vmlinuz", ImageFormat.Kernel));
        await AddAsync(Request("vmlinuz", ImageFormat.Kernel));
        await AddAsync(Request("vmlinuz", ImageFormat.Kernel));
        await _images.RetireImageAsync(new RetireImageRequest { Name = "vmlinuz", Version = 3 });
        await AddAsync(Request("initramfs", ImageFormat.Initrd));

        var disk = await AddAsync(Request("tiny", ImageFormat.Raw, kernel: "vmlinuz", initrd: "initramfs:1", cmdline: "root=/dev/vda console=ttyS0"));

        Assert.Equal(("vmlinuz:2", "initramfs:1", "root=/dev/vda console=ttyS0"), (disk.Kernel, disk.Initrd, disk.KernelCmdline));
        Assert.Equal(ImageFormat.Raw, disk.Format);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_KernelAndInitrdWrong_ListsEveryReferenceProblem()
    {
        await AddAsync(Request("debian-12"));
        await AddAsync(Request("old-kernel", ImageFormat.Kernel));
        await _images.RetireImageAsync(new RetireImageRequest { Name = "old-kernel" });

        var missing = await RefusedAsync(Request("a", kernel: "nope", initrd: "nope-initrd:4"));
        var retired = await RefusedAsync(Request("b", kernel: "old-kernel:1"));
        var allRetired = await RefusedAsync(Request("c", kernel: "old-kernel"));
        var wrongFormat = await RefusedAsync(Request("d", kernel: "debian-12", initrd: "old-kernel:1"));

        Assert.Contains("kernel nope is not in the catalogue; add it first with `ws image add nope --format kernel --url URL --sha256 HEX`", missing.Message, StringComparison.Ordinal);
        Assert.Contains("initrd nope-initrd:4 is not in the catalogue", missing.Message, StringComparison.Ordinal);
        Assert.Contains("kernel old-kernel:1 is retired; name an active version", retired.Message, StringComparison.Ordinal);
        Assert.Contains("kernel old-kernel has no active version (every version is retired)", allRetired.Message, StringComparison.Ordinal);
        Assert.Contains("kernel debian-12:1 is a qcow2 image, not a kernel", wrongFormat.Message, StringComparison.Ordinal);
        Assert.Contains("initrd old-kernel:1 is retired", wrongFormat.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_KernelCombinationsBreakingTheRules_EachRefused()
    {
        await AddAsync(Request("vmlinuz", ImageFormat.Kernel));
        await AddAsync(Request("initramfs", ImageFormat.Initrd));

        var kernelWithKernel = await RefusedAsync(Request("k2", ImageFormat.Kernel, kernel: "vmlinuz"));
        var initrdWithInitrd = await RefusedAsync(Request("i2", ImageFormat.Initrd, initrd: "initramfs"));
        var initrdAlone = await RefusedAsync(Request("disk", initrd: "initramfs"));
        var cmdlineAlone = await RefusedAsync(Request("disk", cmdline: "console=ttyS0"));

        Assert.Contains("a kernel image cannot name a kernel or initrd", kernelWithKernel.Message, StringComparison.Ordinal);
        Assert.Contains("an initrd image cannot name a kernel or initrd", initrdWithInitrd.Message, StringComparison.Ordinal);
        Assert.Contains("initrd is given without a kernel", initrdAlone.Message, StringComparison.Ordinal);
        Assert.Contains("kernel_cmdline is given without a kernel", cmdlineAlone.Message, StringComparison.Ordinal);
        Assert.Equal(["initramfs", "vmlinuz"], (await _images.ListImagesAsync(new ListImagesRequest())).Images.Select(i => i.Name));
    }

    [Fact(Timeout = 10_000)]
    public async Task RetireImage_OneVersion_RetiredAtTheClocksTimeAndRepeatingChangesNothing()
    {
        await AddAsync(Request("debian-12"));
        await AddAsync(Request("debian-12"));

        var retired = await _images.RetireImageAsync(new RetireImageRequest { Name = "debian-12", Version = 1 });
        _clock.Advance(TimeSpan.FromHours(1));
        var again = await _images.RetireImageAsync(new RetireImageRequest { Name = "debian-12", Version = 1 });
        var newest = await _images.GetImageAsync(new GetImageRequest { Name = "debian-12", Version = 2 });

        Assert.Equal(ImageState.Retired, retired.State);
        Assert.Equal(_clock.GetUtcNow() - TimeSpan.FromHours(1), retired.RetiredAt.ToDateTimeOffset());
        Assert.Equal(retired, again);
        Assert.Equal(ImageState.Active, newest.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task RetireImage_VersionZero_RetiresEveryVersionAndReturnsTheNewest()
    {
        await AddAsync(Request("debian-12"));
        await AddAsync(Request("debian-12"));

        var retired = await _images.RetireImageAsync(new RetireImageRequest { Name = "debian-12" });
        var listed = (await _images.ListImagesAsync(new ListImagesRequest { IncludeRetired = true })).Images;

        Assert.Equal((2u, ImageState.Retired), (retired.Version, retired.State));
        Assert.All(listed, i => Assert.Equal(ImageState.Retired, i.State));
        Assert.Empty((await _images.ListImagesAsync(new ListImagesRequest())).Images);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("nosuch", 0u, "image nosuch is not in the catalogue")]
    [InlineData("debian-12", 7u, "image debian-12 has no version 7")]
    public async Task RetireImage_Unknown_NotFoundPointingAtTheList(string name, uint version, string expected)
    {
        await AddAsync(Request("debian-12"));

        var error = await Assert.ThrowsAsync<RpcException>(() => _images.RetireImageAsync(new RetireImageRequest { Name = name, Version = version }));

        Assert.Equal(StatusCode.NotFound, error.Status);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("`ws image list --all` shows the catalogue", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task GetImage_VersionZero_NewestActiveButARetiredVersionStillShownWhenAskedFor()
    {
        await AddAsync(Request("debian-12"));
        await AddAsync(Request("debian-12"));
        await AddAsync(Request("debian-12"));
        await _images.RetireImageAsync(new RetireImageRequest { Name = "debian-12", Version = 3 });

        var newest = await _images.GetImageAsync(new GetImageRequest { Name = "debian-12" });
        var retired = await _images.GetImageAsync(new GetImageRequest { Name = "debian-12", Version = 3 });
        await _images.RetireImageAsync(new RetireImageRequest { Name = "debian-12" });
        var none = await Assert.ThrowsAsync<RpcException>(() => _images.GetImageAsync(new GetImageRequest { Name = "debian-12" }));
        var badName = await Assert.ThrowsAsync<RpcException>(() => _images.GetImageAsync(new GetImageRequest { Name = "../x" }));

        Assert.Equal((2u, ImageState.Active), (newest.Version, newest.State));
        Assert.Equal((3u, ImageState.Retired), (retired.Version, retired.State));
        Assert.Equal(StatusCode.FailedPrecondition, none.Status);
        Assert.Contains("every version of image debian-12 is retired", none.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, badName.Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task ListImages_ByNameThenNewestVersion_FilteredAndWithTheRepositoryUrl()
    {
        foreach (var name in new[] { "zeta", "alpha", "zeta", "alpha" })
        {
            await AddAsync(Request(name));
        }

        await _images.RetireImageAsync(new RetireImageRequest { Name = "zeta", Version = 1 });

        var active = await _images.ListImagesAsync(new ListImagesRequest());
        var all = await _images.ListImagesAsync(new ListImagesRequest { IncludeRetired = true, Name = "zeta" });

        Assert.Equal(["alpha:2", "alpha:1", "zeta:2"], active.Images.Select(i => $"{i.Name}:{i.Version}"));
        Assert.Equal(["zeta:2", "zeta:1"], all.Images.Select(i => $"{i.Name}:{i.Version}"));
        Assert.Matches(@"^http://127\.0\.0\.1:[0-9]+/v1/images$", active.RepositoryUrl);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddImage_NoUserHeader_OwnedByAnonymous()
    {
        using var channel = _scheduler.CreateChannel();

        var image = await new ImageServiceClient(channel).AddImageAsync(Request("debian-12"));

        Assert.Equal("anonymous", image.Owner);
    }
}
