using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Networks;

/// <summary>Addresses from <see cref="First"/> to <see cref="Last"/>, both included; one address when they are equal.</summary>
public sealed record AddressRange(IPAddress First, IPAddress Last)
{
    public override string ToString() => First.Equals(Last) ? First.ToString() : $"{First}-{Last}";
}

/// <summary>
/// One network the scheduler hands out addresses on, as the operator configured it with
/// <c>--network NAME=CIDR[,gateway=IP][,dns=IP+IP…][,reserve=IP-IP+IP…]</c>. Parsing only reads the syntax;
/// <see cref="NetworkChecks"/> decides whether the values make sense, for all networks at once.
/// </summary>
public sealed record NetworkDefinition(string Name, IPNetwork Cidr, IPAddress? Gateway, IReadOnlyList<IPAddress> DnsServers, IReadOnlyList<AddressRange> Reserved)
{
    public const string Syntax = "NAME=CIDR[,gateway=IP][,dns=IP+IP...][,reserve=IP-IP+IP...]";

    public const string Example = "default=10.77.0.0/24,gateway=10.77.0.1,dns=10.77.0.1+9.9.9.9,reserve=10.77.0.2-10.77.0.9+10.77.0.250";

    /// <summary>Reads one <c>--network</c> value.</summary>
    /// <exception cref="FormatException">The value does not follow <see cref="Syntax"/>; the message says where and shows an example.</exception>
    public static NetworkDefinition Parse(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw Bad(text, "it must start with the network's name and '='");
        }

        var name = text[..equals];
        var fields = text[(equals + 1)..].Split(',');
        var cidr = ParseCidr(text, fields[0]);
        IPAddress? gateway = null;
        List<IPAddress> dns = [];
        List<AddressRange> reserved = [];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in fields.Skip(1))
        {
            var separator = field.IndexOf('=', StringComparison.Ordinal);
            var key = separator < 0 ? field : field[..separator];
            var value = separator < 0 ? string.Empty : field[(separator + 1)..];
            if (!seen.Add(key))
            {
                throw Bad(text, $"'{key}' is given twice; list several values with '+', e.g. dns=10.77.0.1+9.9.9.9");
            }

            if (value.Length == 0 && key is "gateway" or "dns" or "reserve")
            {
                throw Bad(text, $"'{key}' has no value");
            }

            switch (key)
            {
                case "gateway":
                    gateway = ParseAddress(text, "gateway", value);
                    break;
                case "dns":
                    dns.AddRange(value.Split('+').Select(a => ParseAddress(text, "dns", a)));
                    break;
                case "reserve":
                    reserved.AddRange(value.Split('+').Select(r => ParseRange(text, r)));
                    break;
                default:
                    throw Bad(text, $"'{IdSyntax.Printable(field)}' is not gateway=IP, dns=IP+IP or reserve=IP-IP+IP");
            }
        }

        return new NetworkDefinition(name, cidr, gateway, dns, reserved);
    }

    /// <summary>The definition as it would be written on the command line.</summary>
    public override string ToString()
    {
        var text = $"{Name}={Cidr}";
        if (Gateway is not null)
        {
            text += $",gateway={Gateway}";
        }

        if (DnsServers.Count > 0)
        {
            text += ",dns=" + string.Join('+', DnsServers);
        }

        return Reserved.Count > 0 ? text + ",reserve=" + string.Join('+', Reserved) : text;
    }

    private static IPNetwork ParseCidr(string text, string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
        {
            throw Bad(text, $"'{IdSyntax.Printable(value)}' is not a network in CIDR notation such as 10.77.0.0/24");
        }

        var address = ParseAddress(text, "the network", value[..slash]);
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix > bits)
        {
            throw Bad(text, $"the prefix length /{prefix} is more than {bits}");
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var network = Ipv4.ToUInt32(address) & Ipv4.Mask(prefix);
            if (network != Ipv4.ToUInt32(address))
            {
                throw Bad(text, $"{value} has host bits set; the network is {Ipv4.FromUInt32(network)}/{prefix}");
            }
        }

        return IPNetwork.TryParse(value, out var cidr) ? cidr
            : throw Bad(text, $"'{IdSyntax.Printable(value)}' is not a network in CIDR notation such as 10.77.0.0/24");
    }

    /// <summary>A dotted quad, or an IPv6 address (which <see cref="NetworkChecks"/> refuses with a clearer message than a syntax error).</summary>
    private static IPAddress ParseAddress(string text, string what, string value)
    {
        if (NetworkSyntax.TryParseIPv4(value, out var v4))
        {
            return v4;
        }

        if (value.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(value, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return v6;
        }

        throw Bad(text, $"{what} '{IdSyntax.Printable(value)}' is not an IPv4 address such as 10.77.0.1");
    }

    private static AddressRange ParseRange(string text, string value)
    {
        var dash = value.IndexOf('-', StringComparison.Ordinal);
        return dash < 0
            ? new AddressRange(ParseAddress(text, "reserve", value), ParseAddress(text, "reserve", value))
            : new AddressRange(ParseAddress(text, "reserve", value[..dash]), ParseAddress(text, "reserve", value[(dash + 1)..]));
    }

    private static FormatException Bad(string text, string problem) =>
        new($"--network '{IdSyntax.Printable(text)}': {problem}; write {Syntax}, e.g. {Example}");
}

/// <summary>IPv4 addresses as numbers, for ranges and arithmetic.</summary>
public static class Ipv4
{
    public static uint ToUInt32(IPAddress address) => BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());

    public static IPAddress FromUInt32(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    public static uint Mask(int prefixLength) => prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);

    /// <summary>The network's first (network) and last (broadcast) address.</summary>
    public static (uint Network, uint Broadcast) Bounds(IPNetwork cidr)
    {
        var network = ToUInt32(cidr.BaseAddress);
        return (network, network | ~Mask(cidr.PrefixLength));
    }
}
