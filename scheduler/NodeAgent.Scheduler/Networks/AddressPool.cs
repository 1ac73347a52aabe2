using System.Net;

namespace NodeAgent.Scheduler.Networks;

/// <summary>
/// Which addresses of one network may be handed out at all: every address of the CIDR except its network and
/// broadcast addresses, the gateway, DNS servers inside the CIDR, and the reserved ranges. Pure arithmetic;
/// what is taken right now comes from the store.
/// </summary>
public sealed class AddressPool
{
    private readonly List<(uint First, uint Last)> _excluded;

    public AddressPool(NetworkDefinition network)
    {
        Network = network;
        var (networkAddress, broadcast) = Ipv4.Bounds(network.Cidr);
        First = networkAddress + 1;
        Last = broadcast - 1;

        var excluded = new List<(uint First, uint Last)>();
        if (network.Gateway is { } gateway)
        {
            excluded.Add((Ipv4.ToUInt32(gateway), Ipv4.ToUInt32(gateway)));
        }

        excluded.AddRange(network.DnsServers.Where(network.Cidr.Contains).Select(d => (Ipv4.ToUInt32(d), Ipv4.ToUInt32(d))));
        excluded.AddRange(network.Reserved.Select(r => (Ipv4.ToUInt32(r.First), Ipv4.ToUInt32(r.Last))));
        _excluded = Merge(excluded.Select(e => (Math.Max(e.First, First), Math.Min(e.Last, Last))).Where(e => e.Item1 <= e.Item2));
        Size = (int)(Last - First + 1 - _excluded.Sum(e => (long)(e.Last - e.First + 1)));
    }

    public NetworkDefinition Network { get; }

    /// <summary>The first and last address that could be handed out, before exclusions.</summary>
    public uint First { get; }

    public uint Last { get; }

    /// <summary>How many addresses can be handed out in all.</summary>
    public int Size { get; }

    public bool IsAssignable(IPAddress address)
    {
        var value = Ipv4.ToUInt32(address);
        return Network.Cidr.Contains(address) && value >= First && value <= Last && !_excluded.Any(e => value >= e.First && value <= e.Last);
    }

    /// <summary>The lowest assignable address not in <paramref name="taken"/>, or null when every one is.</summary>
    public IPAddress? LowestFree(IReadOnlySet<uint> taken)
    {
        var candidate = First;
        var next = 0;
        while (true)
        {
            while (next < _excluded.Count && _excluded[next].Last < candidate)
            {
                next++;
            }

            if (next < _excluded.Count && _excluded[next].First <= candidate)
            {
                if (_excluded[next].Last >= Last)
                {
                    return null;
                }

                candidate = _excluded[next].Last + 1;
                continue;
            }

            if (!taken.Contains(candidate))
            {
                return Ipv4.FromUInt32(candidate);
            }

            if (candidate >= Last)
            {
                return null;
            }

            candidate++;
        }
    }

    private static List<(uint First, uint Last)> Merge(IEnumerable<(uint First, uint Last)> ranges)
    {
        var merged = new List<(uint First, uint Last)>();
        foreach (var range in ranges.OrderBy(r => r.First))
        {
            if (merged.Count > 0 && range.First <= (long)merged[^1].Last + 1)
            {
                merged[^1] = (merged[^1].First, Math.Max(merged[^1].Last, range.Last));
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }
}
