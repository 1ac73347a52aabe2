using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Images;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Images;

/// <summary>A temporary cache directory, a real image server and a clock the test moves, for one test.</summary>
internal sealed class CacheHarness : IAsyncDisposable
{
    private readonly TempDirectory _dir = new();

    private CacheHarness(ImageServer server) => Server = server;

    public ImageServer Server { get; }

    public ManualClock Clock { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>What the workspaces on this "host" use; the cache reads it through its Func.</summary>
    public HashSet<string> WorkspaceDigests { get; } = [];

    public string Root => _dir.Path;

    public string CacheDirectory => Path.Combine(_dir.Path, "cache");

    public static async Task<CacheHarness> StartAsync() => new(await ImageServer.StartAsync());

    public ImageCache Cache(long maxBytes = 1L << 30, string? directory = null, int attempts = 5, TimeProvider? time = null) =>
        new(directory ?? CacheDirectory, maxBytes, () => WorkspaceDigests.ToHashSet(), Fetcher(attempts, time ?? Clock), time ?? Clock, NullLogger<ImageCache>.Instance);

    public static ImageFetcher Fetcher(int attempts, TimeProvider time) =>
        new(new HttpClient(), new ImageFetcherOptions { MaxAttempts = attempts, RetryDelay = _ => TimeSpan.Zero }, time, NullLogger<ImageFetcher>.Instance);

    /// <summary>The file names under DIR/sha256.</summary>
    public static string[] Files(string cacheDirectory) =>
        Directory.GetFiles(Path.Combine(cacheDirectory, "sha256")).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();

    public string[] Files() => Files(CacheDirectory);

    public static byte[] Content(int bytes, int seed)
    {
        var content = new byte[bytes];
        new Random(seed).NextBytes(content);
        return content;
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Sha256OfFile(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public static ImageSource Source(string name, byte[] content, Uri url, bool declareSize = true) =>
        new(name, 1, Sha256(content), ImageFormat.Qcow2, declareSize ? content.Length : 0, url);

    /// <summary>Serves the content at /NAME.qcow2 and returns the image NAME:1 that points at it.</summary>
    public ImageSource Serve(string name, byte[] content, Serving? serving = null, bool declareSize = true) =>
        Source(name, content, Server.Serve(name + ".qcow2", content, serving), declareSize);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>Collects progress reports on the reporting thread (Progress&lt;T&gt; would post them later).</summary>
internal sealed class ProgressLog : IProgress<ImageFetchProgress>
{
    private readonly List<ImageFetchProgress> _reports = [];

    public IReadOnlyList<ImageFetchProgress> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void Report(ImageFetchProgress value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }
    }
}
