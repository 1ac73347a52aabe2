using System.Net.Sockets;
using System.Text;

namespace NodeAgent.Tests.Service;

/// <summary>
/// What systemd would be for a Type=notify service: a unix datagram socket (a file, or an abstract name) that
/// collects every notification sent to it. <see cref="Address"/> is the value for $NOTIFY_SOCKET.
/// </summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<string> _messages = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly string? _path;

    private NotifySocket(string address, string? path)
    {
        Address = address;
        _path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path ?? "\0" + address[1..]));
        _ = ReceiveAsync();
    }

    /// <summary>$NOTIFY_SOCKET: the file's path, or '@' and the abstract name.</summary>
    public string Address { get; }

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>A socket file in <paramref name="directory"/>.</summary>
    public static NotifySocket AtPath(string directory)
    {
        var path = Path.Combine(directory, "notify.sock");
        return new NotifySocket(path, path);
    }

    /// <summary>A socket in the abstract namespace: no file, the name starts with '@' in $NOTIFY_SOCKET.</summary>
    public static NotifySocket Abstract() => new("@nodeagent-test-" + Guid.NewGuid().ToString("N")[..12], null);

    /// <summary>Waits until the <paramref name="count"/>-th message that <paramref name="match"/> accepts arrives (counting those already here); returns it.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan timeout, int count = 1, Func<string>? context = null)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (!cancel.IsCancellationRequested)
        {
            var found = Messages.Where(match).ToList();
            if (found.Count >= count)
            {
                return found[count - 1];
            }

            await Task.Delay(50, CancellationToken.None);
        }

        throw new TimeoutException($"notification #{count} did not arrive within {timeout.TotalSeconds:0} s; received:\n  {string.Join("\n  ", Messages.Select(m => m.ReplaceLineEndings("\\n")))}"
            + (context is null ? string.Empty : "\nprocess output:\n" + context()));
    }

    /// <summary>Waits for the next message from now on that <paramref name="match"/> accepts.</summary>
    public Task<string> WaitForNextAsync(Func<string, bool> match, TimeSpan timeout, Func<string>? context = null) =>
        WaitForAsync(match, timeout, Messages.Count(match) + 1, context);

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                lock (_lock)
                {
                    _messages.Add(Encoding.UTF8.GetString(buffer, 0, length));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }
}
