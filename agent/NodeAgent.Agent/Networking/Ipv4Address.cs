using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// An IPv4 unicast address a guest may hold: a strict dotted quad (four decimal numbers 0–255, no
/// leading zeros, which some parsers read as octal), not in 0/8, 127/8, 224/4 or 240/4.
/// The dotted quad is <see cref="NetworkSyntax.TryParseIPv4"/>'s, the one the scheduler checks by.
/// </summary>
public readonly record struct Ipv4Address
{
    private Ipv4Address(uint bits)
    {
        Bits = bits;
        IsValid = true;
    }

    /// <summary>The address as a host-order number; 10.0.0.1 is 0x0a000001.</summary>
    public uint Bits { get; }

    public bool IsValid { get; }

    public static bool TryParse(string? text, out Ipv4Address address, out string problem)
    {
        address = default;
        if (!TryParseQuad(text, out var bits))
        {
            problem = $"'{IdSyntax.Printable(text ?? "")}' is not an IPv4 address in dotted-quad form (e.g. 10.0.0.5)";
            return false;
        }

        var first = bits >> 24;
        var why = first switch
        {
            0 => "is in 0.0.0.0/8 (\"this network\")",
            127 => "is a loopback address",
            >= 224 and < 240 => "is a multicast address",
            >= 240 => "is reserved or the broadcast address",
            _ => null,
        };
        if (why is not null)
        {
            problem = $"{text} {why}; a guest needs a unicast address";
            return false;
        }

        address = new Ipv4Address(bits);
        problem = string.Empty;
        return true;
    }

    public static Ipv4Address Parse(string text) =>
        TryParse(text, out var address, out var problem) ? address : throw new FormatException($"IPv4 address {problem}");

    /// <summary>True when both addresses share the first <paramref name="prefixLength"/> bits.</summary>
    public bool SameSubnet(Ipv4Address other, int prefixLength)
    {
        var mask = prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);
        return (Bits & mask) == (other.Bits & mask);
    }

    public override string ToString() => IsValid
        ? string.Create(CultureInfo.InvariantCulture, $"{Bits >> 24}.{(Bits >> 16) & 0xff}.{(Bits >> 8) & 0xff}.{Bits & 0xff}")
        : string.Empty;

    private static bool TryParseQuad(string? text, out uint bits)
    {
        bits = 0;
        if (!NetworkSyntax.TryParseIPv4(text, out var address))
        {
            return false;
        }

        bits = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
        return true;
    }
}
