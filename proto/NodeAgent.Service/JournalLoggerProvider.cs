using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>
/// Writes log entries to systemd-journald's native socket, one datagram each, with MESSAGE, PRIORITY,
/// SYSLOG_IDENTIFIER, LOGGER (the category), EVENT_ID and every named placeholder of the entry's message template as
/// a field of its own (<c>{WorkspaceId}</c> → <c>WORKSPACE_ID</c>), so <c>journalctl WORKSPACE_ID=…</c> finds a
/// workspace's entries. An entry that cannot be sent (no journal, a datagram too large) is written to the fallback
/// (stderr) in the systemd console format instead, so nothing is lost.
/// </summary>
public sealed class JournalLoggerProvider : ILoggerProvider
{
    /// <summary>Where journald listens for native entries.</summary>
    public const string DefaultSocket = "/run/systemd/journal/socket";

    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _journal;
    private readonly TextWriter _fallback;

    /// <param name="identifier">SYSLOG_IDENTIFIER: the program's name, e.g. "nodeagent".</param>
    /// <param name="socketPath">journald's socket; tests give one of their own.</param>
    /// <param name="fallback">Where entries that cannot be sent go; stderr by default.</param>
    public JournalLoggerProvider(string identifier, string socketPath = DefaultSocket, TextWriter? fallback = null)
    {
        Identifier = identifier;
        _journal = new UnixDomainSocketEndPoint(socketPath);
        _fallback = TextWriter.Synchronized(fallback ?? Console.Error);
    }

    public string Identifier { get; }

    public ILogger CreateLogger(string categoryName) => new JournalLogger(this, categoryName);

    public void Dispose() => _socket.Dispose();

    internal void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception, IEnumerable<KeyValuePair<string, object?>>? state)
    {
        var text = exception is null ? message : message + "\n" + exception;
        var fields = new List<KeyValuePair<string, string>>
        {
            new("MESSAGE", text),
            new("PRIORITY", JournalFields.Priority(level).ToString(CultureInfo.InvariantCulture)),
            new("SYSLOG_IDENTIFIER", Identifier),
            new("LOGGER", category),
        };
        if (eventId.Id != 0)
        {
            fields.Add(new("EVENT_ID", eventId.Id.ToString(CultureInfo.InvariantCulture)));
        }

        foreach (var (key, value) in state ?? [])
        {
            if (key != "{OriginalFormat}" && JournalFields.Name(key) is { } name)
            {
                fields.Add(new(name, JournalFields.Format(value)));
            }
        }

        try
        {
            _socket.SendTo(JournalFields.Serialize(fields), SocketFlags.None, _journal);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The systemd console format: what journald makes of a line on a service's stderr.
            var line = $"<{JournalFields.Priority(level)}>{category}[{eventId.Id}] {text.ReplaceLineEndings(" ")}";
            _fallback.WriteLine(line);
        }
    }

    private sealed class JournalLogger(JournalLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, eventId, formatter(state, exception), exception, state as IEnumerable<KeyValuePair<string, object?>>);
            }
        }
    }
}
