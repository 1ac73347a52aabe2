using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace NodeAgent.Rpc;

/// <summary>The small encodings the gRPC HTTP/2 protocol defines: headers, timeouts, status messages and frames.</summary>
public static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>A length-prefixed message: one compressed-flag byte, then a four-byte big-endian length.</summary>
    public const int FrameHeaderSize = 5;

    /// <summary>4 MiB: the limit every common gRPC implementation applies to a received message by default.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    /// <summary>True for <c>application/grpc</c> and its <c>+proto</c> / parameterised forms.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }

    public static void WriteFrameHeader(Span<byte> destination, int length)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }

    /// <summary>
    /// Reads a frame header. Throws the status a peer must answer with: a set compressed flag without a
    /// negotiated encoding, or a length over <paramref name="maxMessageSize"/>.
    /// </summary>
    public static int ReadFrameHeader(ReadOnlySpan<byte> header, int maxMessageSize, string direction)
    {
        if (header[0] != 0)
        {
            throw new RpcException(StatusCode.Internal,
                header[0] == 1
                    ? $"{direction} message is marked compressed, but no grpc-encoding was negotiated; send messages uncompressed (this peer accepts identity only)"
                    : $"{direction} message has an invalid compressed-flag byte {header[0]}; expected 0");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"{direction} message of {length} bytes exceeds the limit of {maxMessageSize} bytes; send less per call or raise the receiver's maximum message size");
        }

        return (int)length;
    }

    /// <summary>Formats a timeout as <c>grpc-timeout</c>: at most eight digits and a unit, rounded up.</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ticks = Math.Max(0, timeout.Ticks);
        var micros = (ticks + 9) / 10;
        if (micros < 100_000_000)
        {
            return micros.ToString(CultureInfo.InvariantCulture) + "u";
        }

        var millis = (micros + 999) / 1000;
        if (millis < 100_000_000)
        {
            return millis.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = (millis + 999) / 1000;
        if (seconds < 100_000_000)
        {
            return seconds.ToString(CultureInfo.InvariantCulture) + "S";
        }

        var hours = Math.Min(99_999_999, (seconds + 3599) / 3600);
        return hours.ToString(CultureInfo.InvariantCulture) + "H";
    }

    /// <summary>Parses <c>grpc-timeout</c>. Returns false for anything the protocol does not allow.</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length is < 2 or > 9)
        {
            return false;
        }

        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        var amount = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        long? ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * 10,
            'n' => (amount + 99) / 100,
            _ => null,
        };
        if (ticks is null)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(ticks.Value);
        return true;
    }

    /// <summary>The longest status message sent, in characters: HTTP/2 peers refuse header blocks past 16–64 KiB.</summary>
    public const int MaxStatusMessageLength = 4096;

    /// <summary>
    /// Percent-encodes a status message as <c>grpc-message</c> requires (UTF-8, printable ASCII kept), cut to
    /// <see cref="MaxStatusMessageLength"/> characters first.
    /// </summary>
    public static string EncodeMessage(string message)
    {
        if (message.Length > MaxStatusMessageLength)
        {
            message = message[..(MaxStatusMessageLength - 1)] + "…";
        }

        var needsEncoding = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needsEncoding = true;
                break;
            }
        }

        if (!needsEncoding)
        {
            return message;
        }

        var builder = new StringBuilder(message.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes <c>grpc-message</c>; malformed escapes are kept as they are, as the protocol asks.</summary>
    public static string DecodeMessage(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded) || !encoded.Contains('%', StringComparison.Ordinal))
        {
            return encoded ?? string.Empty;
        }

        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%' && i + 2 < encoded.Length &&
                byte.TryParse(encoded.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(encoded[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The status a client reports when the HTTP response itself is not a gRPC response.</summary>
    public static StatusCode FromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
