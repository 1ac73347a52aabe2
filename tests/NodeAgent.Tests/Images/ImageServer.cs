using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Tests.Images;

/// <summary>How <see cref="ImageServer"/> misbehaves for one file.</summary>
internal sealed record Serving
{
    /// <summary>Send this many bytes, then drop the connection (for the first <see cref="TruncateTimes"/> requests).</summary>
    public int TruncateAfter { get; init; }

    public int TruncateTimes { get; init; }

    /// <summary>Answer 200 with the whole file even to a Range request.</summary>
    public bool IgnoreRange { get; init; }

    /// <summary>Answer 500 to the first this many requests.</summary>
    public int FailTimes { get; init; }

    /// <summary>No Content-Length: a chunked body, so only the bytes themselves tell the size.</summary>
    public bool Chunked { get; init; }

    /// <summary>After the first <see cref="TruncateAfter"/> bytes (or 64 KiB), wait for this before sending the rest.</summary>
    public Task? Gate { get; init; }
}

/// <summary>One request the server answered.</summary>
internal sealed record ServedRequest(string Path, string? Range, int Status);

/// <summary>
/// A real Kestrel HTTP/1.1 server on a free loopback port serving image files, well or badly as each test
/// asks, and counting requests and bytes sent.
/// </summary>
internal sealed class ImageServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (byte[] Content, Serving Serving)> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _served = new(StringComparer.Ordinal);
    private readonly List<ServedRequest> _requests = [];
    private long _bytesSent;

    private ImageServer(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public IReadOnlyList<ServedRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public static async Task<ImageServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);

            // No response buffering: a flush returns once the bytes are in the socket, so a connection dropped
            // right after one still delivers them and a truncation happens exactly where the test says.
            k.Limits.MaxResponseBufferSize = 0;
        });
        var app = builder.Build();
        var server = new ImageServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Address = new Uri(NodeAgent.Scheduler.SchedulerApp.BoundAddresses(app).Single());
        return server;
    }

    /// <summary>An http URL on a loopback port nothing listens on.</summary>
    public static Uri Unreachable()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/image.qcow2");
    }

    /// <summary>Serves <paramref name="content"/> at /<paramref name="name"/>; returns its URL.</summary>
    public Uri Serve(string name, byte[] content, Serving? serving = null)
    {
        lock (_lock)
        {
            _files[name] = (content, serving ?? new Serving());
        }

        return new Uri(Address, name);
    }

    public int RequestsFor(string name) => Requests.Count(r => r.Path == "/" + name);

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        (byte[] Content, Serving Serving) file;
        int index;
        var found = false;
        lock (_lock)
        {
            found = _files.TryGetValue(path.TrimStart('/'), out file);
            index = _served.GetValueOrDefault(path);
            _served[path] = index + 1;
        }

        var range = context.Request.Headers.Range.ToString();
        var status = !found ? 404 : index < file.Serving.FailTimes ? 500 : 200;
        long start = 0;
        if (status == 200 && !file.Serving.IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
            status = start < file.Content.Length ? 206 : 416;
        }

        lock (_lock)
        {
            _requests.Add(new ServedRequest(path, range.Length == 0 ? null : range, status));
        }

        context.Response.StatusCode = status;
        if (status is not (200 or 206))
        {
            if (status == 416)
            {
                context.Response.Headers.ContentRange = $"bytes */{file.Content.Length}";
            }

            return;
        }

        var content = file.Content;
        var serving = file.Serving;
        context.Response.Headers.AcceptRanges = "bytes";
        if (status == 206)
        {
            context.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }

        if (!serving.Chunked)
        {
            context.Response.ContentLength = content.Length - start;
        }

        var truncate = index - serving.FailTimes < serving.TruncateTimes ? serving.TruncateAfter : 0;
        var end = truncate > 0 ? Math.Min(content.Length, start + truncate) : content.Length;
        var pause = serving.Gate is null ? -1 : start + (serving.TruncateAfter > 0 ? serving.TruncateAfter : 64 << 10);
        for (var at = start; at < end;)
        {
            var chunk = (int)Math.Min(64 << 10, end - at);
            // Counted before the write: the client may have read the last bytes before the write returns here.
            Interlocked.Add(ref _bytesSent, chunk);
            await context.Response.Body.WriteAsync(content.AsMemory((int)at, chunk));
            at += chunk;
            if (at == pause)
            {
                await context.Response.Body.FlushAsync();
                await serving.Gate!;
            }
        }

        await context.Response.Body.FlushAsync();
        if (end < content.Length)
        {
            // A FIN after the bytes already in the socket, then wait for the client to hang up: closing the socket
            // here could reset the connection and lose bytes still on their way, so the truncation would not be
            // exactly where the test says.
            context.Features.Get<IConnectionSocketFeature>()!.Socket.Shutdown(SocketShutdown.Send);
            await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            context.Abort();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
