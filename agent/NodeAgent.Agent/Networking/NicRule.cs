namespace NodeAgent.Agent.Networking;

/// <summary>One workspace NIC as anti-spoofing sees it: frames from <see cref="Tap"/> must come from this MAC and address.</summary>
public sealed record NicRule(InterfaceName Tap, MacAddress Mac, Ipv4Address Address)
{
    /// <summary>
    /// Builds the rule from a NIC's MAC and address as text (a workspace spec's, already checked on arrival),
    /// parsing both again into the typed values the rule serializer takes.
    /// </summary>
    public static NicRule Parse(string workspaceId, InterfaceName tap, string mac, string address)
    {
        var problems = new List<string>();
        if (!tap.IsValid)
        {
            problems.Add("tap name is not a parsed value");
        }

        if (!MacAddress.TryParse(mac, out var parsedMac, out var problem))
        {
            problems.Add($"MAC {problem}");
        }

        if (!Ipv4Address.TryParse(address, out var parsedAddress, out problem))
        {
            problems.Add($"address {problem}");
        }

        return problems.Count == 0
            ? new NicRule(tap, parsedMac, parsedAddress)
            : throw new NetworkException($"workspace {Contract.IdSyntax.Printable(workspaceId)}, NIC on tap {tap}: {string.Join("; ", problems)}");
    }
}

/// <summary>Packets and bytes an nftables counter has seen.</summary>
public readonly record struct DropCount(ulong Packets, ulong Bytes);

/// <summary>The anti-spoofing table's counters: per workspace tap, and for taps no workspace has (<see cref="TapGuard"/>).</summary>
public sealed record DropCounts(IReadOnlyDictionary<InterfaceName, DropCount> ByTap, DropCount UnlistedTaps)
{
    public static DropCounts None { get; } = new(new Dictionary<InterfaceName, DropCount>(), default);
}
