using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace NodeAgent.Service;

/// <summary>
/// sd_notify(3) without libsystemd: each notification is one datagram of <c>KEY=VALUE</c> lines sent to the unix
/// socket systemd names in <c>$NOTIFY_SOCKET</c> (a path, or an abstract name written with a leading '@').
/// Without that variable (not started by systemd with Type=notify) every call does nothing. Sending never throws:
/// a service must not fail because its supervisor is gone. Once STOPPING=1 is sent nothing else is: systemd stops
/// watching the watchdog when the unit leaves the running state, and a later STATUS= would hide "stopping".
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    /// <summary>The environment variable systemd sets for a Type=notify service.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly Lock _sending = new();
    private bool _stopping;

    /// <param name="socket">$NOTIFY_SOCKET: an absolute path or '@' and an abstract name; null, empty or anything else disables notifications.</param>
    public SystemdNotifier(string? socket)
    {
        if (string.IsNullOrEmpty(socket) || !(socket[0] is '/' or '@') || socket.Length < 2)
        {
            return;
        }

        Address = socket;
        // An abstract name is the path with a leading NUL byte, which is how .NET (as the kernel) spells it.
        _endPoint = new UnixDomainSocketEndPoint(socket[0] == '@' ? "\0" + socket[1..] : socket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>The socket notifications go to, as $NOTIFY_SOCKET gave it; null when disabled.</summary>
    public string? Address { get; }

    public bool Enabled => _socket is not null;

    /// <summary>The notifier $NOTIFY_SOCKET asks for.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable(SocketVariable));

    /// <summary>Sends <paramref name="state"/> (newline-separated KEY=VALUE assignments); false when disabled or the send failed.</summary>
    public bool Send(string state) => Send(state, stopping: false);

    private bool Send(string state, bool stopping)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_socket is null)
        {
            return false;
        }

        // One lock orders the sends, so a watchdog ping racing STOPPING=1 either goes out before it or not at all.
        lock (_sending)
        {
            if (_stopping)
            {
                return false;
            }

            _stopping = stopping;
            try
            {
                _socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endPoint!);
                return true;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return false;
            }
        }
    }

    /// <summary>READY=1: the service serves; systemd starts the units ordered after it.</summary>
    public bool Ready(string status) => Send("READY=1\nSTATUS=" + OneLine(status));

    /// <summary>STATUS=: one line `systemctl status` shows.</summary>
    public bool Status(string status) => Send("STATUS=" + OneLine(status));

    /// <summary>STOPPING=1: the service is shutting down. The last notification: every later one is not sent.</summary>
    public bool Stopping(string status) => Send("STOPPING=1\nSTATUS=" + OneLine(status), stopping: true);

    /// <summary>
    /// RELOADING=1 with the monotonic time (as Type=notify-reload requires); <see cref="Ready"/> ends the reload.
    /// </summary>
    public bool Reloading(string status) => Send($"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}\nSTATUS={OneLine(status)}");

    /// <summary>WATCHDOG=1: the service is alive (see <see cref="WatchdogPinger"/>, which decides when).</summary>
    public bool Watchdog() => Send("WATCHDOG=1");

    /// <summary>CLOCK_MONOTONIC in microseconds: on Linux the stopwatch counts that clock in nanoseconds.</summary>
    public static long MonotonicMicroseconds() => Stopwatch.GetTimestamp() / Math.Max(1, Stopwatch.Frequency / 1_000_000);

    public void Dispose() => _socket?.Dispose();

    /// <summary>A status is one line: a newline would start another assignment.</summary>
    internal static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
