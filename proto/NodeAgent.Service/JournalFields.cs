using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>
/// The journal's native protocol (systemd.journal-fields(7), "Native Journal Protocol"): an entry is one datagram of
/// fields, each <c>NAME=value\n</c>, or, for a value with a newline, <c>NAME\n</c>, its length as 64-bit little
/// endian, the value and <c>\n</c>. Names are upper-case letters, digits and '_', not starting with '_' or a digit
/// (those are the journal's own), at most 64 characters.
/// </summary>
public static class JournalFields
{
    /// <summary>Names the journal or this logger gives a meaning; a log placeholder of the same name is written as ARG_NAME.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO", "INVOCATION_ID", "USER_INVOCATION_ID",
        "SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "SYSLOG_RAW", "DOCUMENTATION", "TID",
        "LOGGER", "EVENT_ID",
    };

    /// <summary>syslog's priority for a log level: 7 debug, 6 info, 4 warning, 3 err, 2 crit.</summary>
    public static int Priority(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => 7,
        LogLevel.Information => 6,
        LogLevel.Warning => 4,
        LogLevel.Error => 3,
        _ => 2,
    };

    /// <summary>
    /// The field a message template's placeholder becomes: <c>WorkspaceId</c> → <c>WORKSPACE_ID</c>, <c>HostID</c> →
    /// <c>HOST_ID</c>; other characters become '_'. Null when nothing usable is left.
    /// </summary>
    public static string? Name(string placeholder)
    {
        ArgumentNullException.ThrowIfNull(placeholder);
        var name = new StringBuilder(placeholder.Length + 8);
        for (var i = 0; i < placeholder.Length; i++)
        {
            var c = placeholder[i];
            if (char.IsAsciiLetterUpper(c) && i > 0 && name.Length > 0 && name[^1] != '_'
                && (char.IsAsciiLetterLower(placeholder[i - 1]) || char.IsAsciiDigit(placeholder[i - 1])
                    || (char.IsAsciiLetterUpper(placeholder[i - 1]) && i + 1 < placeholder.Length && char.IsAsciiLetterLower(placeholder[i + 1]))))
            {
                name.Append('_');
            }

            name.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }

        var text = name.ToString().TrimStart('_', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
        if (text.Length == 0)
        {
            return null;
        }

        text = Reserved.Contains(text) ? "ARG_" + text : text;
        return text.Length <= 64 ? text : text[..64];
    }

    /// <summary>A structured value as text: numbers and times culture-invariant, sequences comma-separated, as the message shows them.</summary>
    public static string Format(object? value) => value switch
    {
        null => "(null)",
        string text => text,
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable sequence => string.Join(", ", sequence.Cast<object?>().Select(Format)),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>One entry, serialized.</summary>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, string>> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        foreach (var (name, value) in fields)
        {
            buffer.Write(Encoding.ASCII.GetBytes(name));
            var bytes = Encoding.UTF8.GetBytes(value);
            if (value.Contains('\n', StringComparison.Ordinal))
            {
                buffer.WriteByte((byte)'\n');
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)bytes.Length);
                buffer.Write(length);
            }
            else
            {
                buffer.WriteByte((byte)'=');
            }

            buffer.Write(bytes);
            buffer.WriteByte((byte)'\n');
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a serialized entry back (both encodings); for tests and tools.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(ReadOnlySpan<byte> datagram)
    {
        var fields = new List<KeyValuePair<string, string>>();
        while (!datagram.IsEmpty)
        {
            var end = datagram.IndexOfAny((byte)'=', (byte)'\n');
            if (end < 0)
            {
                throw new FormatException("a journal field without '=' or a newline after its name");
            }

            var name = Encoding.ASCII.GetString(datagram[..end]);
            if (datagram[end] == '=')
            {
                var line = datagram[(end + 1)..].IndexOf((byte)'\n');
                var stop = line < 0 ? datagram.Length - end - 1 : line;
                fields.Add(new(name, Encoding.UTF8.GetString(datagram.Slice(end + 1, stop))));
                datagram = datagram[Math.Min(datagram.Length, end + 2 + stop)..];
            }
            else
            {
                var size = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(datagram.Slice(end + 1, 8)));
                fields.Add(new(name, Encoding.UTF8.GetString(datagram.Slice(end + 9, size))));
                datagram = datagram[(end + 9 + size + 1)..];
            }
        }

        return fields;
    }
}
