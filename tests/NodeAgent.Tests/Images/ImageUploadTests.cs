using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Tests.Images.RepositoryKit;

namespace NodeAgent.Tests.Images;

/// <summary>
/// The upload client against the real scheduler's repository and, for failures the repository does not make on
/// demand (a 503, a reset, a refused connection), against a small real HTTP server or a closed port on loopback.
/// </summary>
public sealed class ImageUploadTests : IAsyncLifetime
{
    private static readonly byte[] Image = TestImages.Bytes(3_000_000, seed: 20);
    private static readonly string Digest = TestImages.Sha256(Image);

    private readonly List<int> _delays = [];
    private ImageRepositoryHost _host = null!;
    private string _file = null!;

    public async Task InitializeAsync()
    {
        _host = await ImageRepositoryHost.StartAsync(o => o with { ImageMaxSizeBytes = 4_000_000 });
        _file = Path.Combine(_host.Directory.Path, "disk.img");
        await File.WriteAllBytesAsync(_file, Image);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = 20_000)]
    public async Task ComputeSha256_SameAsSha256sum()
    {
        using var sha256sum = Process.Start(new ProcessStartInfo("sha256sum", [_file]) { RedirectStandardOutput = true })!;
        var expected = (await sha256sum.StandardOutput.ReadToEndAsync())[..64];

        var digest = await ImageUpload.ComputeSha256Async(_file, CancellationToken.None);

        Assert.Equal(expected, digest);
        Assert.Equal(Digest, digest);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_New_StoredWithProgressToTheEnd()
    {
        var progress = new Recorded();
        using var upload = NewUpload();

        var result = await upload.UploadAsync(_host.ImagesUrl, _file, Digest, progress, CancellationToken.None);

        Assert.Equal(new UploadResult(Digest, Image.Length, AlreadyPresent: false), result);
        Assert.Equal(Image, await File.ReadAllBytesAsync(_host.Repository.PathOf(Digest)));
        Assert.Equal(Image.Length, progress.Values[^1]);
        Assert.True(progress.Values.Count > 1, "progress is reported along the way");
        Assert.Empty(_delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_AlreadyThere_OnlyAHead()
    {
        using (var first = NewUpload())
        {
            await first.UploadAsync(_host.ImagesUrl, _file, Digest, null, CancellationToken.None);
        }

        using var recorder = new Recorder();
        using var upload = new ImageUpload(new ImageUploadOptions { Delay = RecordDelay }, recorder);

        var result = await upload.UploadAsync(_host.ImagesUrl, _file, Digest, null, CancellationToken.None);

        Assert.True(result.AlreadyPresent);
        Assert.Equal(["HEAD 200"], recorder.Calls);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_WrongDigest_ImageUploadExceptionWithBothDigestsNoRetry()
    {
        var claimed = TestImages.Sha256([1, 2, 3]);
        using var upload = NewUpload();

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(_host.ImagesUrl, _file, claimed, null, CancellationToken.None));

        Assert.Equal(400, error.StatusCode);
        Assert.Contains(Digest, error.Message, StringComparison.Ordinal);
        Assert.Contains(claimed, error.Message, StringComparison.Ordinal);
        Assert.Contains("did not change after its digest was computed", error.Message, StringComparison.Ordinal);
        Assert.Empty(_delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_OverTheLimit_413WithWhatToDo()
    {
        var big = TestImages.Bytes(5_000_000, seed: 21);
        var file = Path.Combine(_host.Directory.Path, "big.img");
        await File.WriteAllBytesAsync(file, big);
        using var upload = NewUpload();

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(_host.ImagesUrl, file, TestImages.Sha256(big), null, CancellationToken.None));

        Assert.Equal(413, error.StatusCode);
        Assert.Contains("at most 4000000 bytes", error.ServerMessage, StringComparison.Ordinal);
        Assert.Contains("raise --image-max-size", error.Message, StringComparison.Ordinal);
        Assert.Empty(_delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_ServerUnavailableTwice_RetriedThenStored()
    {
        var puts = 0;
        await using var server = await FlakyServer.StartAsync(async context =>
        {
            if (HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.StatusCode = 404;
                return;
            }

            await context.Request.Body.CopyToAsync(Stream.Null);
            context.Response.StatusCode = ++puts <= 2 ? 503 : 201;
        });
        using var upload = NewUpload();

        var result = await upload.UploadAsync(server.Url, _file, Digest, null, CancellationToken.None);

        Assert.False(result.AlreadyPresent);
        Assert.Equal(3, puts);
        Assert.Equal([1, 2], _delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_ConnectionRefused_RetriedThenExceptionSayingWhatToCheck()
    {
        using var upload = NewUpload(retries: 2);

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(new Uri($"http://127.0.0.1:{ClosedPort()}/v1/images"), _file, Digest, null, CancellationToken.None));

        Assert.Null(error.StatusCode);
        Assert.Contains("failed 3 times", error.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
        Assert.Contains("reachable from here", error.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2], _delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_ConnectionReset_Retried()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var resets = Task.Run(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                try
                {
                    using var accepted = await listener.AcceptSocketAsync();
                    accepted.LingerState = new LingerOption(true, 0);
                    accepted.Close();
                }
                catch (SocketException)
                {
                    // The connection was taken from the queue but its peer had already gone (ENOTCONN when the
                    // accepted socket asks for its address): for the client, that attempt failed as a reset would.
                }
            }
        });
        using var upload = NewUpload(retries: 2);

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(new Uri($"http://{listener.LocalEndpoint}/v1/images"), _file, Digest, null, CancellationToken.None));
        await resets;

        Assert.Contains("failed 3 times", error.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2], _delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_507FromTheServer_NotRetried()
    {
        await using var server = await FlakyServer.StartAsync(async context =>
        {
            context.Response.StatusCode = HttpMethods.IsHead(context.Request.Method) ? 404 : 507;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("the image repository /srv/images has no room\n");
        });
        using var upload = NewUpload();

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(server.Url, _file, Digest, null, CancellationToken.None));

        Assert.Equal(507, error.StatusCode);
        Assert.Equal("the image repository /srv/images has no room", error.ServerMessage);
        Assert.Empty(_delays);
    }

    [Fact(Timeout = 20_000)]
    public async Task Upload_NotADigest_ArgumentException()
    {
        using var upload = NewUpload();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => upload.UploadAsync(_host.ImagesUrl, _file, Digest.ToUpperInvariant(), null, CancellationToken.None));

        Assert.Contains("64 lower-case hex digits", error.Message, StringComparison.Ordinal);
    }

    private ImageUpload NewUpload(int retries = 5) => new(new ImageUploadOptions { Retries = retries, Delay = RecordDelay });

    private Task RecordDelay(int retry, CancellationToken cancellationToken)
    {
        lock (_delays)
        {
            _delays.Add(retry);
        }

        return Task.CompletedTask;
    }

    private static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Progress values as reported, in order, on the reporting thread (Progress&lt;T&gt; would post them later).</summary>
    private sealed class Recorded : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value) => Values.Add(value);
    }

    /// <summary>Passes requests to the real socket handler and notes each method and status.</summary>
    private sealed class Recorder() : DelegatingHandler(new SocketsHttpHandler())
    {
        public List<string> Calls { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            Calls.Add($"{request.Method} {(int)response.StatusCode}");
            return response;
        }
    }

    /// <summary>A real HTTP server on loopback answering as the test says, for failures on demand.</summary>
    private sealed class FlakyServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FlakyServer(WebApplication app) => _app = app;

        public Uri Url => new(_app.Urls.First() + "/v1/images");

        public static async Task<FlakyServer> StartAsync(RequestDelegate handler)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.Run(handler);
            await app.StartAsync();
            return new FlakyServer(app);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
