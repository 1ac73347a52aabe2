using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NodeAgent.Contract;

/// <summary>
/// The syntax of the values in a <c>NetworkAttachment</c>: network names, MACs and IPv4 addresses. Scheduler,
/// agent and ws check them with the same rules, so a value that passes here is safe inside a Linux interface
/// name, an nftables identifier, domain XML or a command line.
/// </summary>
public static class NetworkSyntax
{
    /// <summary>Network names end up in bridge-related interface names (at most 15 characters on Linux).</summary>
    public const int MaxNameLength = 15;

    /// <summary>A network name: a lower-case letter, then up to 14 lower-case letters, digits or '-'.</summary>
    public static bool IsValidName(string? text, out string problem)
    {
        if (string.IsNullOrEmpty(text))
        {
            problem = "is empty";
            return false;
        }

        if (text.Length > MaxNameLength)
        {
            problem = $"'{IdSyntax.Printable(text)}' is {text.Length} characters long; a network name has at most {MaxNameLength}";
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!(c is >= 'a' and <= 'z' || (i > 0 && c is (>= '0' and <= '9') or '-')))
            {
                problem = $"'{IdSyntax.Printable(text)}' has '{IdSyntax.Printable(c.ToString())}' at position {i}; a network name is a lower-case letter followed by lower-case letters, digits and '-'";
                return false;
            }
        }

        problem = string.Empty;
        return true;
    }

    /// <summary>A MAC as the contract writes it: six lower-case hex pairs separated by ':', locally administered unicast.</summary>
    public static bool IsValidMac(string? text, out string problem)
    {
        problem = string.Empty;
        if (text is not { Length: 17 })
        {
            problem = $"MAC '{IdSyntax.Printable(text ?? string.Empty)}' is not six hex pairs separated by ':' (lower-case, e.g. 52:54:00:12:34:56)";
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var separator = i % 3 == 2;
            if (separator ? text[i] != ':' : !char.IsAsciiHexDigitLower(text[i]) && !char.IsAsciiDigit(text[i]))
            {
                problem = $"MAC '{IdSyntax.Printable(text)}' is not six hex pairs separated by ':' (lower-case, e.g. 52:54:00:12:34:56)";
                return false;
            }
        }

        var first = byte.Parse(text.AsSpan(0, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if ((first & 0x01) != 0)
        {
            problem = $"MAC {text} is a multicast address; a NIC needs a unicast one (bit 0 of the first byte clear)";
            return false;
        }

        if ((first & 0x02) == 0)
        {
            problem = $"MAC {text} is not locally administered (bit 1 of the first byte set, as in 52:54:00:…); a globally assigned MAC belongs to some real network card";
            return false;
        }

        return true;
    }

    /// <summary>
    /// An IPv4 address as a dotted quad and nothing else: four decimal numbers 0–255 without leading zeros.
    /// <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes "10", "10.1" and octal, which a
    /// person rarely means.
    /// </summary>
    public static bool TryParseIPv4(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text is null || text.Length is < 7 or > 15)
        {
            return false;
        }

        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0') || !part.All(char.IsAsciiDigit))
            {
                return false;
            }

            var value = int.Parse(part, CultureInfo.InvariantCulture);
            if (value > 255)
            {
                return false;
            }

            bytes[i] = (byte)value;
        }

        address = new IPAddress(bytes);
        return address.AddressFamily == AddressFamily.InterNetwork;
    }
}
