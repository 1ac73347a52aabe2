using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// A workspace NIC's MAC address: six lower-case hex pairs separated by ':', unicast, not all zero, e.g.
/// 52:54:00:12:34:56 — the same rule as the agent's other MAC check (Hypervisor's MacAddressSyntax), so a
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
        if (text is null || text.Length != 17)
        {
            problem = $"'{IdSyntax.Printable(text ?? "")}' is not six hex pairs separated by ':' (e.g. 52:54:00:12:34:56)";
            return false;
        }

        ulong bits = 0;
        for (var i = 0; i < 6; i++)
        {
            var pair = text.AsSpan(i * 3, 2);
            var separatorOk = i == 5 || text[(i * 3) + 2] == ':';
            if (!separatorOk || !IsLowerHex(pair[0]) || !IsLowerHex(pair[1]))
            {
                problem = $"'{IdSyntax.Printable(text)}' is not six lower-case hex pairs separated by ':' (e.g. 52:54:00:12:34:56)";
                return false;
            }

            bits = (bits << 8) | byte.Parse(pair, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        }

        var first = (byte)(bits >> 40);
        if ((first & 0x01) != 0)
        {
            problem = $"{text} is a multicast address; a NIC needs a unicast one (lowest bit of the first byte clear)";
            return false;
        }

        if (bits == 0)
        {
            problem = "00:00:00:00:00:00 is not an address";
            return false;
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
