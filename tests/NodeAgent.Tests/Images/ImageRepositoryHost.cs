using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Images;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Images.RepositoryKit;

/// <summary>The real scheduler in process, gRPC and image listener both on free loopback ports, its files in a fresh directory.</summary>
internal sealed class ImageRepositoryHost : IAsyncDisposable
{
    private ImageRepositoryHost(WebApplication app, TempDirectory directory)
    {
        App = app;
        Directory = directory;
        Repository = app.Services.GetRequiredService<ImageRepository>();
        GrpcAddress = new Uri(SchedulerApp.BoundAddresses(app).Single());
    }

    public WebApplication App { get; }

    public TempDirectory Directory { get; }

    public ImageRepository Repository { get; }

    public Uri GrpcAddress { get; }

    public Uri ImagesUrl => Repository.PublicUrl ?? throw new InvalidOperationException("the repository is disabled");

    public HttpClient Http { get; } = new();

    public static async Task<ImageRepositoryHost> StartAsync(Func<SchedulerOptions, SchedulerOptions>? configure = null)
    {
        var directory = new TempDirectory();
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:0")],
            ImageListen = RpcListenAddress.Parse("http://127.0.0.1:0"),
            DatabasePath = Path.Combine(directory.Path, "scheduler.db"),
            Auth = NodeAgent.Scheduler.Security.AuthMode.None,
        };
        options = configure?.Invoke(options) ?? options;
        var app = SchedulerApp.Build(options, logging => logging.ClearProviders());
        await app.StartAsync();
        return new ImageRepositoryHost(app, directory);
    }

    public Uri ImageUri(string sha256) => new(ImagesUrl + "/sha256/" + sha256);

    /// <summary>Uploads left unfinished in the repository.</summary>
    public string[] TemporaryFiles() => System.IO.Directory.GetFiles(Path.Combine(Repository.Directory, "sha256"), "*.upload-*");

    public async Task<HttpResponseMessage> PutAsync(string sha256, byte[] bytes) =>
        await Http.PutAsync(ImageUri(sha256), new ByteArrayContent(bytes));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Directory.Dispose();
    }
}

/// <summary>Test images: seeded random bytes and their digests.</summary>
internal static class TestImages
{
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>
/// HTTP/1.1 written byte for byte on a socket: request targets no HTTP library would send unnormalized
/// (dot segments, encoded slashes), and uploads cut off or paused at a chosen point.
/// </summary>
internal sealed class RawHttp : IDisposable
{
    private readonly TcpClient _client;

    private RawHttp(TcpClient client)
    {
        _client = client;
        Stream = client.GetStream();
    }

    public NetworkStream Stream { get; }

    public static async Task<RawHttp> ConnectAsync(Uri server)
    {
        var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        return new RawHttp(client);
    }

    /// <summary>Sends a request (target as given) with Connection: close and returns the status and the whole response text.</summary>
    public static async Task<(int Status, string Text)> RequestAsync(Uri server, string method, string target)
    {
        using var raw = await ConnectAsync(server);
        await raw.SendHeadAsync($"{method} {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n\r\n");
        return await raw.ReadResponseAsync();
    }

    public async Task SendHeadAsync(string head) => await Stream.WriteAsync(Encoding.ASCII.GetBytes(head));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await Stream.WriteAsync(bytes);

    /// <summary>Reads until the server closes the connection.</summary>
    public async Task<(int Status, string Text)> ReadResponseAsync()
    {
        using var response = new MemoryStream();
        await Stream.CopyToAsync(response);
        var text = Encoding.UTF8.GetString(response.ToArray());
        var status = int.Parse(text.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        return (status, text);
    }

    /// <summary>Reads until the server closes the connection, orderly or with a reset.</summary>
    public async Task ReadUntilClosedAsync()
    {
        try
        {
            await Stream.CopyToAsync(System.IO.Stream.Null);
        }
        catch (IOException)
        {
            // Reset by the server: closed all the same.
        }
    }

    /// <summary>Closes with a reset (no orderly FIN), as a crashed or killed client does.</summary>
    public void Reset()
    {
        _client.Client.LingerState = new LingerOption(true, 0);
        _client.Client.Close();
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>A tmpfs of a given size mounted on a fresh directory (the tests run as root); unmounted when disposed.</summary>
internal sealed class SmallTmpfs : IDisposable
{
    public SmallTmpfs(string size)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nodeagent-tmpfs-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path);
        Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", Path);
    }

    public string Path { get; }

    /// <summary>Writes a file in the tmpfs's root until the file system is full.</summary>
    public void Fill()
    {
        using var filler = new FileStream(System.IO.Path.Combine(Path, "filler"), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                filler.Write(block);
            }
        }
        catch (IOException)
        {
            // Full.
        }
    }

    public void Dispose()
    {
        Run("umount", Path);
        System.IO.Directory.Delete(Path);
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {error}");
        }
    }
}

/// <summary>Waits for a condition the code under test reaches on its own thread (no timing is asserted).</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail("never happened: " + what);
            }

            await Task.Delay(20);
        }
    }
}
