using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NodeAgent.Metrics;

/// <summary>
/// A minimal HTTP/1.1 responder for <c>/metrics</c>, on a plain socket, for a program that runs no web server
/// (the agent, whose memory matters). One request per connection, answered with <c>Connection: close</c>:
/// GET or HEAD /metrics gets 200 and the body <paramref name="render"/> makes; any other path 404; another method
/// on /metrics 405; a request head over <see cref="MaxRequestBytes"/> 431; a malformed one 400. A client that sends
/// nothing for <see cref="ReadTimeout"/> is dropped, and at most <see cref="MaxConnections"/> are served at once.
/// </summary>
public sealed class MetricsHttpServer : IAsyncDisposable
{
    public const int MaxRequestBytes = 8 * 1024;
    public const int MaxConnections = 16;
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    private readonly TcpListener _listener;
    private readonly Func<byte[]> _render;
    private readonly SemaphoreSlim _slots = new(MaxConnections);
    private readonly CancellationTokenSource _stop = new();
    private Task _accepting = Task.CompletedTask;

    public MetricsHttpServer(IPEndPoint endPoint, Func<byte[]> render)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _listener = new TcpListener(endPoint);
        _render = render;
    }

    /// <summary>The bound address (port 0 resolved) once started.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Binds and starts accepting.</summary>
    /// <exception cref="SocketException">The address cannot be bound (in use, not on this host).</exception>
    public void Start()
    {
        _listener.Start();
        _accepting = AcceptLoopAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await _slots.WaitAsync(stopping);
                socket = await _listener.AcceptSocketAsync(stopping);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && stopping.IsCancellationRequested)
            {
                return;
            }

            _ = ServeAsync(socket, stopping);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        try
        {
            using (socket)
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                timeout.CancelAfter(ReadTimeout);
                var (status, head) = await ReadHeadAsync(socket, timeout.Token);
                var response = status != 200 ? Error(status) : Answer(head);
                await socket.SendAsync(response, SocketFlags.None, timeout.Token);

                // Closing with unread request bytes (an oversized head) would reset the connection and could destroy
                // the answer before the client reads it: end the sending side, then read what is left, up to a limit.
                socket.Shutdown(SocketShutdown.Send);
                var rest = new byte[4096];
                for (var drained = 0; drained < 16 * MaxRequestBytes;)
                {
                    var read = await socket.ReceiveAsync(rest, SocketFlags.None, timeout.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    drained += read;
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or was too slow: nothing to answer.
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Reads up to the blank line that ends the request head: 200 with the head, or an error status.</summary>
    private static async Task<(int Status, string Head)> ReadHeadAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                return (431, string.Empty);
            }

            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return (400, string.Empty);
            }

            length += read;
            var end = buffer.AsSpan(0, length).IndexOf(HeadEnd);
            if (end >= 0)
            {
                return (200, Encoding.ASCII.GetString(buffer, 0, end));
            }
        }
    }

    private byte[] Answer(string head)
    {
        var line = head.AsSpan(0, head.IndexOf("\r\n", StringComparison.Ordinal) is var n and >= 0 ? n : head.Length).ToString();
        var parts = line.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return Error(400);
        }

        var (method, target) = (parts[0], parts[1]);
        var path = target.Split('?', 2)[0];
        if (path != "/metrics")
        {
            return Response(404, "Not Found", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes($"no such resource: {path}; metrics are at /metrics\n"), body: true);
        }

        if (method is not ("GET" or "HEAD"))
        {
            return Response(405, "Method Not Allowed", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes($"{method} is not supported; GET or HEAD /metrics\n"), body: true, "Allow: GET, HEAD\r\n");
        }

        return Response(200, "OK", TextFormat.ContentType, _render(), body: method == "GET");
    }

    private static byte[] Error(int status) => status switch
    {
        431 => Response(431, "Request Header Fields Too Large", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes($"request head over {MaxRequestBytes} bytes\n"), body: true),
        _ => Response(400, "Bad Request", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes("malformed HTTP/1.1 request; GET /metrics\n"), body: true),
    };

    private static byte[] Response(int status, string reason, string contentType, byte[] content, bool body, string extraHeaders = "")
    {
        var header = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {content.Length}\r\n{extraHeaders}Connection: close\r\n\r\n");
        return body ? [.. header, .. content] : header;
    }
}
