using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Api;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// What the lease code calls on the catalogue (ResolveForLease, AddSaved) and how its exceptions reach the
/// wire, on a real SQLite file; and the repository URL hook of the ImageService.
/// </summary>
public sealed class ImageCatalogueTests : IDisposable
{
    private static readonly string KernelDigest = new('b', 64);
    private static readonly string InitrdDigest = new('c', 64);
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly TempDirectory _directory = new();
    private readonly SqliteDatabase _database;
    private readonly ImageCatalogue _catalogue;

    public ImageCatalogueTests()
    {
        _database = new SqliteDatabase(Path.Combine(_directory.Path, "s.db"));
        _catalogue = new ImageCatalogue(new ImageStore(_database), _clock, NullLogger<ImageCatalogue>.Instance);
    }

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private Task<Image> AddAsync(string name, ImageFormat format = ImageFormat.Qcow2, string digest = "", ImageKey? kernel = null, ImageKey? initrd = null, string cmdline = "") =>
        _catalogue.AddAsync(new NewImage(name, format, 1000, digest.Length > 0 ? digest : ImageApiTests.DigestA, $"https://images.example/{name}", "admin", kernel, initrd, cmdline));

    private async Task AddBootableAsync()
    {
        await AddAsync("vmlinuz", ImageFormat.Kernel, KernelDigest);
        await AddAsync("initramfs", ImageFormat.Initrd, InitrdDigest);
        await AddAsync("tiny", ImageFormat.Raw, kernel: new ImageKey("vmlinuz", 0), initrd: new ImageKey("initramfs", 1), cmdline: "root=/dev/vda console=ttyS0");
    }

    [Fact]
    public async Task ResolveForLease_DiskWithKernelAndInitrd_EveryFieldOfAllThreeFilled()
    {
        await AddBootableAsync();

        var resolved = _catalogue.ResolveForLease("tiny", 0);

        Assert.Equal(("tiny", 1u, ImageApiTests.DigestA, V1.ImageFormat.Raw, 1000UL, "https://images.example/tiny"),
            (resolved.Name, resolved.Version, resolved.Sha256, resolved.Format, resolved.SizeBytes, resolved.Url));
        Assert.Equal(("vmlinuz", 1u, KernelDigest, V1.ImageFormat.Kernel, "https://images.example/vmlinuz"),
            (resolved.Kernel.Name, resolved.Kernel.Version, resolved.Kernel.Sha256, resolved.Kernel.Format, resolved.Kernel.Url));
        Assert.Equal(("initramfs", 1u, InitrdDigest, V1.ImageFormat.Initrd, 1000UL),
            (resolved.Initrd.Name, resolved.Initrd.Version, resolved.Initrd.Sha256, resolved.Initrd.Format, resolved.Initrd.SizeBytes));
        Assert.Equal("root=/dev/vda console=ttyS0", resolved.KernelCmdline);
        Assert.Null(resolved.Kernel.Kernel);
    }

    [Fact]
    public async Task ResolveForLease_KernelRetiredAfterTheDiskWasAdded_StillBootsWithThatKernel()
    {
        await AddBootableAsync();
        await AddAsync("vmlinuz", ImageFormat.Kernel, new string('d', 64));
        await _catalogue.RetireAsync("vmlinuz", 1);

        var resolved = _catalogue.ResolveForLease("tiny", 1);

        Assert.Equal((1u, KernelDigest), (resolved.Kernel.Version, resolved.Kernel.Sha256));
    }

    [Fact]
    public async Task ResolveForLease_VersionZero_NewestActiveWithoutKernel()
    {
        await AddAsync("debian-12");
        await AddAsync("debian-12", digest: new string('e', 64));
        await AddAsync("debian-12");
        await _catalogue.RetireAsync("debian-12", 3);

        var resolved = _catalogue.ResolveForLease("debian-12", 0);

        Assert.Equal((2u, new string('e', 64)), (resolved.Version, resolved.Sha256));
        Assert.Null(resolved.Kernel);
        Assert.Null(resolved.Initrd);
        Assert.Equal(string.Empty, resolved.KernelCmdline);
    }

    [Theory]
    [InlineData("nosuch", 0u, "image nosuch is not in the catalogue")]
    [InlineData("debian-12", 9u, "image debian-12 has no version 9")]
    public async Task ResolveForLease_Unknown_NotFoundSayingHowToListAndAdd(string name, uint version, string expected)
    {
        await AddAsync("debian-12");

        var error = Assert.Throws<ImageNotFoundException>(() => _catalogue.ResolveForLease(name, version));
        var status = ErrorMapping.ToStatus(error)!;

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("`ws image list --all` shows the catalogue", error.Message, StringComparison.Ordinal);
        Assert.Contains($"`ws image add {name} --url URL --sha256 HEX`", error.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, status.Status);
    }

    [Fact]
    public async Task ResolveForLease_RetiredVersion_FailedPreconditionNamingTheNewestActiveOne()
    {
        await AddAsync("debian-12");
        await AddAsync("debian-12");
        await AddAsync("debian-12");
        await _catalogue.RetireAsync("debian-12", 1);
        await _catalogue.RetireAsync("debian-12", 3);

        var error = Assert.Throws<ImageRetiredException>(() => _catalogue.ResolveForLease("debian-12", 1));

        Assert.Equal("image debian-12:1 is retired; use debian-12:2, the newest active version (or just debian-12)", error.Message);
        Assert.Equal(StatusCode.FailedPrecondition, ErrorMapping.ToStatus(error)!.Status);
    }

    [Fact]
    public async Task ResolveForLease_EveryVersionRetired_RetiredSayingSo()
    {
        await AddAsync("debian-12");
        await _catalogue.RetireAsync("debian-12", 0);

        var exact = Assert.Throws<ImageRetiredException>(() => _catalogue.ResolveForLease("debian-12", 1));
        var newest = Assert.Throws<ImageRetiredException>(() => _catalogue.ResolveForLease("debian-12", 0));

        Assert.Contains("image debian-12:1 is retired and debian-12 has no active version", exact.Message, StringComparison.Ordinal);
        Assert.StartsWith("every version of image debian-12 is retired", newest.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResolveForLease_RetiredHere_RefusedAtOnceThoughTheCatalogueWasReadALeaseAgo()
    {
        await AddAsync("ubuntu");
        _catalogue.ResolveForLease("ubuntu", 1);

        await _catalogue.RetireAsync("ubuntu", 1);

        Assert.Throws<ImageRetiredException>(() => _catalogue.ResolveForLease("ubuntu", 1));
    }

    [Fact]
    public async Task ResolveForLease_RetiredByAnotherReplica_SeenOnceTheCachedResolutionIsASecondOld()
    {
        await AddAsync("ubuntu");
        var other = new ImageCatalogue(new ImageStore(_database), _clock, NullLogger<ImageCatalogue>.Instance);
        _catalogue.ResolveForLease("ubuntu", 0);

        await other.RetireAsync("ubuntu", 1);
        var justAfter = _catalogue.ResolveForLease("ubuntu", 0);
        _clock.Advance(ResolvedImages.Lifetime);

        Assert.Equal(1u, justAfter.Version);
        Assert.Throws<ImageRetiredException>(() => _catalogue.ResolveForLease("ubuntu", 0));
    }

    [Fact]
    public async Task ResolveForLease_Twice_EachCallerGetsItsOwnCopy()
    {
        await AddBootableAsync();
        var first = _catalogue.ResolveForLease("tiny", 0);

        first.Url = "changed by its caller";
        first.Kernel.Sha256 = "changed too";
        var second = _catalogue.ResolveForLease("tiny", 0);

        Assert.Equal(("https://images.example/tiny", KernelDigest), (second.Url, second.Kernel.Sha256));
    }

    [Fact]
    public async Task AddSaved_FromABootableLease_QcowOfTheOwnerKeepingKernelInitrdAndCommandLine()
    {
        await AddBootableAsync();
        var basedOn = _catalogue.ResolveForLease("tiny", 0);
        await _catalogue.RetireAsync("vmlinuz", 0);
        _clock.Advance(TimeSpan.FromMinutes(5));

        var saved = await _catalogue.AddSaved("tiny", "bob", new string('f', 64), 5000, "http://repo.example:7701/sha256/" + new string('f', 64), "w-abcdefghjk", basedOn, "");
        var resolved = _catalogue.ResolveForLease("tiny", 0);

        Assert.Equal((2u, ImageFormat.Qcow2, "bob", "w-abcdefghjk"), (saved.Version, saved.Format, saved.Owner, saved.SavedFromLease));
        Assert.Equal((new ImageKey("vmlinuz", 1), new ImageKey("initramfs", 1), "root=/dev/vda console=ttyS0"), (saved.Kernel, saved.Initrd, saved.KernelCmdline));
        Assert.Equal("saved from lease w-abcdefghjk, based on tiny:1", saved.Description);
        Assert.Equal(_clock.GetUtcNow(), saved.CreatedAt);
        Assert.Equal((2u, KernelDigest, V1.ImageFormat.Qcow2), (resolved.Version, resolved.Kernel.Sha256, resolved.Format));
    }

    [Fact]
    public async Task AddSaved_BadValues_InvalidImageListingEachAndNothingStored()
    {
        await AddAsync("debian-12");
        var basedOn = _catalogue.ResolveForLease("debian-12", 0);

        var error = await Assert.ThrowsAsync<InvalidImageException>(() =>
            _catalogue.AddSaved("Bad Name", "bob", "nothex", -1, "gopher://x", "w-abcdefghjk", basedOn, "saved"));

        Assert.Equal(4, error.Problems.Count);
        Assert.Equal(StatusCode.InvalidArgument, ErrorMapping.ToStatus(error)!.Status);
        Assert.Single(_catalogue.List(includeRetired: true));
    }

    [Fact(Timeout = 10_000)]
    public async Task ListImages_RepositoryHookGiven_AnswersWithItsUrl()
    {
        var registry = new RpcServiceRegistry().Add(new ImageApi(_catalogue, () => "http://repo.example:7701"));
        await using var server = await TestRpcServer.StartAsync(registry, new RpcServerOptions { ExceptionMapper = ErrorMapping.ToStatus, Gate = new NodeAgent.Scheduler.Security.ApiGate(NodeAgent.Scheduler.Security.AuthMode.None, null!) });
        using var channel = server.CreateChannel();

        var response = await new V1.ImageServiceClient(channel).ListImagesAsync(new V1.ListImagesRequest());

        Assert.Equal("http://repo.example:7701", response.RepositoryUrl);
    }
}
