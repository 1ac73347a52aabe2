using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// A workspace NIC's MAC address: <see cref="NetworkSyntax.IsValidMac"/>'s rule (lower-case, locally administered
/// unicast, e.g. 52:54:00:12:34:56), the one the scheduler assigns by and every part of the agent checks, so a
/// MAC accepted on arrival is never refused here. Kept as its six bytes; <see cref="ToString"/> is the only
/// text form and holds only hex digits and ':'.
/// </summary>
public readonly record struct MacAddress
{
    private readonly ulong _bits;

    private MacAddress(ulong bits)
    {
        _bits = bits;
        IsValid = true;
    }

    public bool IsValid { get; }

    public static bool TryParse(string? text, out MacAddress mac, out string problem)
    {
        mac = default;
        if (!NetworkSyntax.IsValidMac(text, out problem))
        {
            return false;
        }

        ulong bits = 0;
        for (var i = 0; i < 6; i++)
        {
            bits = (bits << 8) | byte.Parse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        }

        mac = new MacAddress(bits);
        problem = string.Empty;
        return true;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var mac, out var problem) ? mac : throw new FormatException($"MAC address {problem}");

    public override string ToString()
    {
        if (!IsValid)
        {
            return string.Empty;
        }

        Span<char> text = stackalloc char[17];
        for (var i = 0; i < 6; i++)
        {
            var b = (byte)(_bits >> (8 * (5 - i)));
            b.TryFormat(text[(i * 3)..], out _, "x2", CultureInfo.InvariantCulture);
            if (i < 5)
            {
                text[(i * 3) + 2] = ':';
            }
        }

        return new string(text);
    }

    private static bool IsLowerHex(char c) => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f';
}
