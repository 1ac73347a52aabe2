using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Tests.Cli;

/// <summary>
/// A small HTTP/1.1 server on loopback speaking the image repository's upload protocol under /images:
/// HEAD /images/sha256/HEX answers 200 when it holds the blob, PUT stores a body whose sha256 is HEX (and
/// needs a Content-Length). Stands in for the repository another part of the scheduler provides.
/// </summary>
internal sealed class BlobServer : IAsyncDisposable
{
    private const string Prefix = "/images/sha256/";
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly int? _refuseWith;
    private WebApplication _app = null!;
    private int _puts;

    private BlobServer(int? refuseWith) => _refuseWith = refuseWith;

    /// <summary>The repository URL, as a scheduler announces it.</summary>
    public Uri Url { get; private set; } = null!;

    public int Puts => Volatile.Read(ref _puts);

    public byte[]? Blob(string sha256) => _blobs.GetValueOrDefault(sha256);

    /// <summary>Starts the server; with <paramref name="refuseWith"/>, every PUT is answered with that status and "disk full".</summary>
    public static async Task<BlobServer> StartAsync(int? refuseWith = null)
    {
        var server = new BlobServer(refuseWith);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        server._app = builder.Build();
        server._app.Run(server.HandleAsync);
        await server._app.StartAsync();
        server.Url = new Uri(NodeAgent.Scheduler.SchedulerApp.BoundAddresses(server._app).Single().TrimEnd('/') + "/images");
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var digest = path[Prefix.Length..];
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = _blobs.TryGetValue(digest, out var held) ? StatusCodes.Status200OK : StatusCodes.Status404NotFound;
            context.Response.ContentLength = held?.Length;
            return;
        }

        if (!HttpMethods.IsPut(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        Interlocked.Increment(ref _puts);
        if (_refuseWith is { } status)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("disk full");
            return;
        }

        if (context.Request.ContentLength is null)
        {
            context.Response.StatusCode = StatusCodes.Status411LengthRequired;
            return;
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != digest || bytes.Length != context.Request.ContentLength)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("digest or length mismatch");
            return;
        }

        _blobs[digest] = bytes;
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
