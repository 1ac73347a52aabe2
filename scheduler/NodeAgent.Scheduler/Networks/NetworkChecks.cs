using System.Net;
using System.Net.Sockets;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Networks;

/// <summary>Whether the configured networks make sense, each and together; every problem is reported, not the first.</summary>
public static class NetworkChecks
{
    /// <summary>Smaller networks leave too few addresses; larger ones make a pool scan costly and are rarely meant.</summary>
    public const int ShortestPrefix = 16;

    /// <summary>A /31 or /32 has no address left once the network and broadcast addresses are set aside.</summary>
    public const int LongestPrefix = 30;

    /// <summary>What a guest's resolver reads (glibc's MAXNS).</summary>
    public const int MaxDnsServers = 3;

    public static readonly TimeSpan MaxQuarantine = TimeSpan.FromDays(30);

    public static IReadOnlyList<string> Problems(IReadOnlyList<NetworkDefinition> networks, string? defaultNetwork, TimeSpan quarantine)
    {
        var problems = new List<string>();
        foreach (var network in networks)
        {
            Check(network, problems);
        }

        foreach (var duplicate in networks.GroupBy(n => n.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"network {IdSyntax.Printable(duplicate.Key)}: configured {duplicate.Count()} times; give each network one --network");
        }

        var v4 = networks.Where(n => IsV4(n.Cidr.BaseAddress)).ToList();
        for (var i = 0; i < v4.Count; i++)
        {
            for (var j = i + 1; j < v4.Count; j++)
            {
                if (v4[i].Cidr.Contains(v4[j].Cidr.BaseAddress) || v4[j].Cidr.Contains(v4[i].Cidr.BaseAddress))
                {
                    problems.Add($"network {IdSyntax.Printable(v4[j].Name)}: {v4[j].Cidr} overlaps network {IdSyntax.Printable(v4[i].Name)} ({v4[i].Cidr}); an address must belong to one network");
                }
            }
        }

        if (defaultNetwork is not null && networks.Count == 0)
        {
            problems.Add($"default-network: '{IdSyntax.Printable(defaultNetwork)}' is given but no --network is configured");
        }
        else if (defaultNetwork is not null && !networks.Any(n => n.Name == defaultNetwork))
        {
            problems.Add($"default-network: '{IdSyntax.Printable(defaultNetwork)}' is not configured; it must be one of {string.Join(", ", networks.Select(n => n.Name))}");
        }

        if (quarantine < TimeSpan.Zero || quarantine > MaxQuarantine)
        {
            problems.Add($"address-quarantine: {quarantine} must be between 0 and {MaxQuarantine.TotalDays:0} days");
        }

        return problems;
    }

    private static void Check(NetworkDefinition network, List<string> problems)
    {
        var where = $"network {IdSyntax.Printable(network.Name)}";
        var before = problems.Count;
        if (!NetworkSyntax.IsValidName(network.Name, out var nameProblem))
        {
            problems.Add($"{where}: the name {nameProblem}");
        }

        if (!IsV4(network.Cidr.BaseAddress))
        {
            problems.Add($"{where}: {network.Cidr} is not IPv4; networks are IPv4 only");
            return;
        }

        if (network.Cidr.PrefixLength is < ShortestPrefix or > LongestPrefix)
        {
            problems.Add($"{where}: {network.Cidr} must be between /{ShortestPrefix} and /{LongestPrefix}");
            return;
        }

        var (first, last) = Ipv4.Bounds(network.Cidr);
        bool IsEdge(IPAddress address) => Ipv4.ToUInt32(address) is var value && (value == first || value == last);

        if (network.Gateway is { } gateway)
        {
            if (!IsV4(gateway) || !network.Cidr.Contains(gateway) || IsEdge(gateway))
            {
                problems.Add($"{where}: gateway {gateway} must be an address inside {network.Cidr} other than its network and broadcast addresses");
            }
        }

        if (network.DnsServers.Count > MaxDnsServers)
        {
            problems.Add($"{where}: {network.DnsServers.Count} DNS servers; a guest uses at most {MaxDnsServers}");
        }

        foreach (var dns in network.DnsServers)
        {
            if (!IsV4(dns) || dns.Equals(IPAddress.Any) || dns.Equals(IPAddress.Broadcast) || IPAddress.IsLoopback(dns) || (Ipv4.ToUInt32(dns) >> 28) == 0xE)
            {
                problems.Add($"{where}: DNS server {dns} must be a unicast IPv4 address (not 0.0.0.0, loopback, multicast or broadcast)");
            }
            else if (network.Cidr.Contains(dns) && IsEdge(dns))
            {
                problems.Add($"{where}: DNS server {dns} is the network or broadcast address of {network.Cidr}");
            }
        }

        foreach (var range in network.Reserved)
        {
            if (!IsV4(range.First) || !IsV4(range.Last) || !network.Cidr.Contains(range.First) || !network.Cidr.Contains(range.Last))
            {
                problems.Add($"{where}: reserved range {range} must lie inside {network.Cidr}");
            }
            else if (Ipv4.ToUInt32(range.First) > Ipv4.ToUInt32(range.Last))
            {
                problems.Add($"{where}: reserved range {range} ends before it starts; write the lower address first");
            }
        }

        // Only a network whose values are sound has a pool to measure.
        if (problems.Count == before && new AddressPool(network).Size == 0)
        {
            problems.Add($"{where}: no address is left to hand out once the gateway, DNS servers and reserved ranges are set aside");
        }
    }

    private static bool IsV4(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork;
}
