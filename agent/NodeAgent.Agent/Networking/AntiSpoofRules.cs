using System.Globalization;
using System.Text;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// The one serializer from typed NIC values to the nftables script of table <c>bridge nodeagent</c>.
/// The script replaces the whole table in one transaction (<c>nft -f</c>): it declares the table, deletes it,
/// and defines it anew, so the first apply, every change and the rebuild after a restart are the same
/// operation, and a failed apply leaves the previous table as it was. Nothing outside this table is touched.
/// <para>
/// Per tap: a chain <c>from_TAP</c> and a named counter <c>drop_TAP</c>. A frame entering the bridge from the
/// tap passes only if its Ethernet source is the NIC's MAC and it is IPv4 from the NIC's address, or ARP whose
/// sender is that MAC and address (or an RFC 5227 probe: that MAC, sender address 0.0.0.0). Everything else
/// (another MAC or address, IPv6, VLAN-tagged frames, any other ethertype) is counted and dropped.
/// The base chain hooks bridge <c>prerouting</c>, which sees every frame a port receives before the bridge
/// decides whether to forward it to another port or deliver it to the host, so one hook covers both.
/// </para>
/// Only parsed values reach the text; each is checked again here, so a <c>default</c> struct cannot slip
/// through, and the text forms of these types contain only hex digits, decimal digits, letters and <c>_ . - :</c>.
/// </summary>
public static class AntiSpoofRules
{
    public const string Family = "bridge";
    public const string Table = "nodeagent";
    public const string CounterPrefix = "drop_";
    public const string ChainPrefix = "from_";

    /// <summary>Counts frames from taps that match a <see cref="TapGuard"/> prefix but have no rules; no tap's counter can have this name.</summary>
    public const string GuardCounter = "unlisted_taps_drop";

    public static string CounterName(InterfaceName tap) => CounterPrefix + Checked(tap);

    public static string ChainName(InterfaceName tap) => ChainPrefix + Checked(tap);

    /// <summary>
    /// The script for exactly these NICs. <paramref name="carriedCounts"/> seeds each tap's counter with the
    /// value it had before, so rebuilding the table for one workspace does not reset the others' counts.
    /// With a <paramref name="guard"/>, frames from other taps named like the agent's are dropped too.
    /// </summary>
    public static string Render(IEnumerable<NicRule> nics, DropCounts? carriedCounts = null, TapGuard? guard = null)
    {
        var ordered = Check(nics);
        var text = new StringBuilder();
        text.Append("# Written by nodeagent: only workspace NICs' own MAC and IPv4 address may send. Replaced whole on every change.\n");
        text.Append(CultureInfo.InvariantCulture, $"table {Family} {Table}\n");
        text.Append(CultureInfo.InvariantCulture, $"delete table {Family} {Table}\n");
        text.Append(CultureInfo.InvariantCulture, $"table {Family} {Table} {{\n");
        text.Append("\tcomment \"nodeagent anti-spoofing; rebuilt from the running workspaces, do not edit\"\n");
        foreach (var nic in ordered)
        {
            text.Append(CultureInfo.InvariantCulture, $"\tcounter {CounterName(nic.Tap)} {{\n");
            text.Append(CultureInfo.InvariantCulture, $"\t\tcomment \"frames from {nic.Tap} dropped\"\n");
            if (carriedCounts?.ByTap.TryGetValue(nic.Tap, out var count) == true)
            {
                text.Append(CultureInfo.InvariantCulture, $"\t\tpackets {count.Packets} bytes {count.Bytes}\n");
            }

            text.Append("\t}\n");
        }

        var prefixes = guard?.Prefixes ?? [];
        if (prefixes.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"\tcounter {GuardCounter} {{\n");
            text.Append("\t\tcomment \"frames from taps named like nodeagent's that no workspace has, dropped\"\n");
            if (carriedCounts?.UnlistedTaps is { } count && count != default)
            {
                text.Append(CultureInfo.InvariantCulture, $"\t\tpackets {count.Packets} bytes {count.Bytes}\n");
            }

            text.Append("\t}\n");
        }

        foreach (var nic in ordered)
        {
            AppendNicChain(text, nic);
        }

        if (ordered.Count > 0 || prefixes.Count > 0)
        {
            text.Append("\tchain prerouting {\n");
            text.Append("\t\ttype filter hook prerouting priority filter; policy accept;\n");
            if (ordered.Count > 0)
            {
                // Every from_ chain ends in accept or drop, so a listed tap's frames never reach the guard below.
                text.Append("\t\tiifname vmap { ");
                text.AppendJoin(", ", ordered.Select(nic => $"\"{Checked(nic.Tap)}\" : jump {ChainName(nic.Tap)}"));
                text.Append(" }\n");
            }

            foreach (var prefix in prefixes)
            {
                text.Append(CultureInfo.InvariantCulture, $"\t\tiifname \"{CheckedPrefix(prefix)}*\" counter name {GuardCounter} drop\n");
            }

            text.Append("\t}\n");
        }

        text.Append("}\n");
        return text.ToString();
    }

    /// <summary>Maps a counter name from <c>nft list counters</c> back to its tap; null for any other counter.</summary>
    public static InterfaceName? TapOfCounter(string counterName) =>
        counterName.StartsWith(CounterPrefix, StringComparison.Ordinal) &&
        InterfaceName.TryParse(counterName[CounterPrefix.Length..], out var tap, out _)
            ? tap
            : null;

    private static void AppendNicChain(StringBuilder text, NicRule nic)
    {
        var counter = CounterName(nic.Tap);
        var mac = Checked(nic.Mac);
        var address = Checked(nic.Address);
        const string Arp = "ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4";
        text.Append(CultureInfo.InvariantCulture, $"\tchain {ChainName(nic.Tap)} {{\n");
        text.Append(CultureInfo.InvariantCulture, $"\t\tether saddr != {mac} counter name {counter} drop\n");
        text.Append(CultureInfo.InvariantCulture, $"\t\tether type ip ip saddr {address} accept\n");
        text.Append(CultureInfo.InvariantCulture, $"\t\t{Arp} arp saddr ether {mac} arp saddr ip {address} accept\n");
        text.Append(CultureInfo.InvariantCulture, $"\t\t{Arp} arp operation request arp saddr ether {mac} arp saddr ip 0.0.0.0 accept\n");
        text.Append(CultureInfo.InvariantCulture, $"\t\tcounter name {counter} drop\n");
        text.Append("\t}\n");
    }

    private static List<NicRule> Check(IEnumerable<NicRule> nics)
    {
        var ordered = nics.OrderBy(nic => nic.Tap.Value, StringComparer.Ordinal).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Tap == ordered[i - 1].Tap)
            {
                throw new NetworkException($"tap {ordered[i].Tap} appears twice in the anti-spoofing rules; each NIC needs its own tap");
            }
        }

        return ordered;
    }

    private static string Checked(InterfaceName tap)
    {
        if (!tap.IsValid)
        {
            throw new NetworkException("anti-spoofing rule with an unparsed tap name (default value)");
        }

        return InterfaceName.TryParse(tap.Value, out _, out var problem)
            ? tap.Value
            : throw new NetworkException($"anti-spoofing rule with a bad tap name: {problem}");
    }

    private static string CheckedPrefix(string prefix) =>
        InterfaceName.TryParse(prefix, out _, out var problem) && prefix.Length < InterfaceName.MaxLength
            ? prefix
            : throw new NetworkException($"tap guard prefix {(problem.Length > 0 ? problem : "is too long")}");

    private static string Checked(MacAddress mac) =>
        mac.IsValid ? mac.ToString() : throw new NetworkException("anti-spoofing rule with an unparsed MAC address (default value)");

    private static string Checked(Ipv4Address address) =>
        address.IsValid ? address.ToString() : throw new NetworkException("anti-spoofing rule with an unparsed IPv4 address (default value)");
}
