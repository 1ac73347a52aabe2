using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Cli;
using NodeAgent.Cli.Commands;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Api;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Scheduler;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>
/// ws image list/show/add/retire run as programs against the real scheduler in process. For --file, the
/// scheduler side is the real ImageService with its repository hook pointing at <see cref="BlobServer"/>,
/// a small HTTP server in this test speaking the repository's PUT/HEAD protocol.
/// </summary>
public sealed class ImageCommandTests : IAsyncLifetime
{
    private static readonly string Digest = new('a', 64);
    private readonly TempDirectory _files = new();
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private ImageServiceClient _images = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(emptyCatalogue: true);
        _channel = _scheduler.CreateChannel();
        _images = new ImageServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _files.Dispose();
    }

    private sealed record WsRun(int Code, string Stdout, string Stderr);

    private Task<WsRun> WsAsync(params string[] arguments) => WsAtAsync(_scheduler.Address, arguments);

    private static async Task<WsRun> WsAtAsync(Uri scheduler, params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["WS_SCHEDULER"] = scheduler.ToString();
        start.Environment["USER"] = "alice";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new WsRun(process.ExitCode, await stdout, await stderr);
    }

    private string WriteFile(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        var path = Path.Combine(_files.Path, $"disk-{seed}.qcow2");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact(Timeout = 30_000)]
    public async Task Add_UrlShaAndHumanSize_AddedAsVersionOneOwnedByTheUser()
    {
        var run = await WsAsync("image", "add", "debian-12", "--url", "https://images.example/debian-12.qcow2", "--sha256", Digest, "--size", "64M", "--description", "Debian 12");

        var image = await _images.GetImageAsync(new GetImageRequest { Name = "debian-12" });
        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("Image:        debian-12:1", run.Stdout, StringComparison.Ordinal);
        Assert.Equal((1u, 64UL << 20, "alice", ImageFormat.Qcow2, "Debian 12"), (image.Version, image.SizeBytes, image.Owner, image.Format, image.Description));
    }

    [Fact(Timeout = 30_000)]
    public async Task List_TableWithShortDigestsAndJsonWithTheMessages()
    {
        await _images.AddImageAsync(ImageApiTests.Request("debian-12"));
        await _images.AddImageAsync(ImageApiTests.Request("debian-12"));
        await _images.AddImageAsync(ImageApiTests.Request("alma-9"));

        var table = await WsAsync("image", "list");
        var json = await WsAsync("image", "list", "debian-12", "-o", "json");

        Assert.Equal(ExitCodes.Ok, table.Code);
        var lines = table.Stdout.TrimEnd().Split('\n');
        Assert.Matches(@"^NAME\s+VERSION\s+FORMAT\s+SIZE\s+SHA256\s+OWNER\s+STATE\s+CREATED$", lines[0]);
        Assert.Matches(@"^alma-9\s+1\s+qcow2\s+64 MiB\s+aaaaaaaaaaaa\s+anonymous\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d$", lines[1]);
        Assert.Matches(@"^debian-12\s+2\s", lines[2]);
        Assert.Matches(@"^debian-12\s+1\s", lines[3]);
        using var parsed = JsonDocument.Parse(json.Stdout);
        var images = parsed.RootElement.GetProperty("images");
        Assert.Equal([2, 1], images.EnumerateArray().Select(i => i.GetProperty("version").GetInt32()));
        Assert.Equal(Digest, images[0].GetProperty("sha256").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_NameAndVersion_EveryField()
    {
        await _images.AddImageAsync(ImageApiTests.Request("vmlinuz", ImageFormat.Kernel));
        await _images.AddImageAsync(ImageApiTests.Request("tiny", ImageFormat.Raw, kernel: "vmlinuz", cmdline: "console=ttyS0"));
        await _images.AddImageAsync(ImageApiTests.Request("tiny"));

        var run = await WsAsync("image", "show", "tiny:1");

        Assert.Equal(ExitCodes.Ok, run.Code);
        foreach (var line in new[]
        {
            "Image:        tiny:1", "State:        active", "Format:       raw", "Size:         64 MiB (67108864 bytes)", $"SHA-256:      {Digest}",
            "URL:          https://images.example/tiny", "Owner:        anonymous", "Kernel:       vmlinuz:1", "Initrd:       -",
            "Command line: console=ttyS0", "Description:  -", "Saved from:   -", "Created:      ",
        })
        {
            Assert.Contains(line, run.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Retire_OneVersion_HiddenFromListButShownWithAll()
    {
        await _images.AddImageAsync(ImageApiTests.Request("debian-12"));
        await _images.AddImageAsync(ImageApiTests.Request("debian-12"));

        var retire = await WsAsync("image", "retire", "debian-12:1");
        var list = await WsAsync("image", "list");
        var all = await WsAsync("image", "list", "--all");

        Assert.Equal(ExitCodes.Ok, retire.Code);
        Assert.Equal("Retired debian-12:1.\n", retire.Stdout);
        Assert.DoesNotContain("retired", list.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"debian-12\s+1\s+.*\sretired\s", all.Stdout);
        Assert.Equal(ImageState.Retired, (await _images.GetImageAsync(new GetImageRequest { Name = "debian-12", Version = 1 })).State);
    }

    [Fact(Timeout = 30_000)]
    public async Task Errors_RefusalsExitOneAndUsageMistakesExitTwo()
    {
        var invalid = await WsAsync("image", "add", "Bad", "--url", "ftp://x", "--sha256", "nothex");
        var unknown = await WsAsync("image", "show", "nosuch");
        var noDigest = await WsAsync("image", "add", "x", "--url", "https://images.example/x");
        var both = await WsAsync("image", "add", "x", "--url", "https://images.example/x", "--file", "/etc/hostname");
        var badVersion = await WsAsync("image", "retire", "x:latest");

        Assert.Equal(ExitCodes.ServerError, invalid.Code);
        Assert.Contains("name 'Bad' has 'B'", invalid.Stderr, StringComparison.Ordinal);
        Assert.Contains("url 'ftp://x'", invalid.Stderr, StringComparison.Ordinal);
        Assert.Contains("sha256 'nothex'", invalid.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.ServerError, unknown.Code);
        Assert.Contains("`ws image list --all` shows the catalogue", unknown.Stderr, StringComparison.Ordinal);
        Assert.Equal((ExitCodes.UsageError, ExitCodes.UsageError, ExitCodes.UsageError), (noDigest.Code, both.Code, badVersion.Code));
        Assert.Contains("--sha256 is required with --url", noDigest.Stderr, StringComparison.Ordinal);
        Assert.Contains("give either --url URL with --sha256 HEX, or --file PATH", both.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task AddHelp_CarriesTheManualWithExamples()
    {
        var run = await WsAsync("image", "add", "--help");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("Manual:", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("ws image add my-disk --file ./disk.qcow2", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("--image-listen", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task AddFile_SchedulerWithoutRepository_ExitsOneSayingWhatToDoInstead()
    {
        await using var bare = await RunningScheduler.StartAsync(o => o with { ImageListen = null }, emptyCatalogue: true);

        var run = await WsAtAsync(bare.Address, "image", "add", "mine", "--file", WriteFile(1000));

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("use --url URL --sha256 HEX", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--image-listen", run.Stderr, StringComparison.Ordinal);
        using var channel = bare.CreateChannel();
        Assert.Empty((await new ImageServiceClient(channel).ListImagesAsync(new ListImagesRequest())).Images);
    }

    [Fact(Timeout = 60_000)]
    public async Task AddFile_Repository_UploadsOnceAndAddsTheImageWithItsDigestSizeAndUrl()
    {
        await using var blobs = await BlobServer.StartAsync();
        await using var scheduler = await RepositorySchedulerAsync(blobs);
        var file = WriteFile(1_500_000);
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

        var first = await WsAtAsync(scheduler.Server.Address, "image", "add", "mine", "--file", file, "--sha256", digest, "-o", "json");
        var second = await WsAtAsync(scheduler.Server.Address, "image", "add", "mine", "--file", file);

        Assert.Equal((ExitCodes.Ok, ExitCodes.Ok), (first.Code, second.Code));
        using var parsed = JsonDocument.Parse(first.Stdout);
        Assert.Equal(digest, parsed.RootElement.GetProperty("sha256").GetString());
        Assert.Equal($"{blobs.Url}/sha256/{digest}", parsed.RootElement.GetProperty("url").GetString());
        Assert.Equal("1500000", parsed.RootElement.GetProperty("sizeBytes").GetString());
        Assert.Equal(File.ReadAllBytes(file), blobs.Blob(digest));
        Assert.Equal(1, blobs.Puts);
        Assert.Contains("holds", second.Stderr, StringComparison.Ordinal);
        Assert.Equal([2u, 1u], scheduler.Catalogue.List(includeRetired: false, "mine").Select(i => i.Version));
    }

    [Fact(Timeout = 60_000)]
    public async Task AddFile_RepositoryRefuses_ExitsOneWithItsAnswerAndAddsNothing()
    {
        await using var blobs = await BlobServer.StartAsync(refuseWith: 507);
        await using var scheduler = await RepositorySchedulerAsync(blobs);

        var run = await WsAtAsync(scheduler.Server.Address, "image", "add", "mine", "--file", WriteFile(4096));

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("HTTP 507", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("disk full", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(scheduler.Catalogue.List(includeRetired: true));
    }

    [Fact(Timeout = 30_000)]
    public async Task AddFile_ShaGivenDoesNotMatch_ExitsTwoBeforeUploading()
    {
        await using var blobs = await BlobServer.StartAsync();
        await using var scheduler = await RepositorySchedulerAsync(blobs);

        var run = await WsAtAsync(scheduler.Server.Address, "image", "add", "mine", "--file", WriteFile(4096), "--sha256", Digest);

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("does not match", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, blobs.Puts);
    }

    [Fact(Timeout = 30_000)]
    public async Task RepositoryUploader_NewBlob_ReportsProgressUpToTheWholeFile()
    {
        await using var blobs = await BlobServer.StartAsync();
        var file = WriteFile(3_000_000);
        var uploader = new RepositoryUploader();
        var seen = new List<long>();

        var digest = await uploader.ComputeSha256Async(file, CancellationToken.None);
        var outcome = await uploader.UploadAsync(blobs.Url, file, digest, new Recorder(seen), CancellationToken.None);

        Assert.Equal(new UploadOutcome(digest, 3_000_000, AlreadyPresent: false), outcome);
        Assert.Equal(3_000_000, seen[^1]);
        Assert.True(seen.Count >= 3, $"expected a report per 1 MiB chunk, got {seen.Count}");
    }

    [Fact]
    public void TerminalProgress_RedrawsOnlyWhenThePercentageChangesAndEndsTheLine()
    {
        using var error = new StringWriter();
        var progress = new TerminalProgress(error, "disk.qcow2", 4L << 20);

        foreach (var sent in new long[] { 1L << 20, (1L << 20) + 1, 2L << 20, 4L << 20 })
        {
            progress.Report(sent);
        }

        Assert.Equal(
            "\rws: uploading disk.qcow2: 1 MiB of 4 MiB (25%)\rws: uploading disk.qcow2: 2 MiB of 4 MiB (50%)\rws: uploading disk.qcow2: 4 MiB of 4 MiB (100%)" + Environment.NewLine,
            error.ToString());
    }

    private sealed class Recorder(List<long> seen) : IProgress<long>
    {
        public void Report(long value) => seen.Add(value);
    }

    private sealed class RepositoryScheduler(TestRpcServer server, SqliteDatabase database, TempDirectory directory, ImageCatalogue catalogue) : IAsyncDisposable
    {
        public TestRpcServer Server => server;

        public ImageCatalogue Catalogue => catalogue;

        public async ValueTask DisposeAsync()
        {
            await server.DisposeAsync();
            database.Dispose();
            SqliteConnection.ClearAllPools();
            directory.Dispose();
        }
    }

    /// <summary>The real ImageService and catalogue, with the repository hook the integrator wires to the image repository.</summary>
    private static async Task<RepositoryScheduler> RepositorySchedulerAsync(BlobServer blobs)
    {
        var directory = new TempDirectory();
        var database = new SqliteDatabase(Path.Combine(directory.Path, "s.db"));
        var catalogue = new ImageCatalogue(new ImageStore(database), TimeProvider.System, NullLogger<ImageCatalogue>.Instance);
        var registry = new RpcServiceRegistry().Add(new ImageApi(catalogue, () => blobs.Url.ToString()));
        var server = await TestRpcServer.StartAsync(registry, new RpcServerOptions { ExceptionMapper = ErrorMapping.ToStatus, Gate = new NodeAgent.Scheduler.Security.ApiGate(NodeAgent.Scheduler.Security.AuthMode.None, null!) });
        return new RepositoryScheduler(server, database, directory, catalogue);
    }
}
