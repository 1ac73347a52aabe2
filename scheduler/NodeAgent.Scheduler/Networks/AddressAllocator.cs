using System.Diagnostics.CodeAnalysis;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Networks;

/// <summary>The lease asks for a network this scheduler does not have; the message names the ones it has.</summary>
public sealed class UnknownNetworkException(string network, IReadOnlyList<string> configured) : Exception(configured.Count == 0
    ? $"network '{IdSyntax.Printable(network)}' is not configured: this scheduler has no networks, so workspaces get no NIC; leave the network out"
    : $"network '{IdSyntax.Printable(network)}' is not configured on this scheduler; the configured networks are {string.Join(", ", configured)}")
{
    public string Network { get; } = network;
}

/// <summary>
/// Address management (IPAM): the source of truth for which address and MAC a lease holds on a network. It
/// works inside the store transaction of a placement or a lease's end, so what it reads and what it reserves
/// cannot be interleaved with another placement; the store's UNIQUE constraints stand behind that.
/// An address goes to the lowest free one of the pool; it is held while the lease lives and for the quarantine
/// after the lease ended or failed, so a new workspace does not inherit traffic, ARP caches or trust meant for
/// the old one. MACs are 52:54:00 (the prefix QEMU uses, locally administered) and three random bytes,
/// drawn until unused.
/// </summary>
public sealed class AddressAllocator
{
    private const int MacDraws = 1000;

    private readonly Dictionary<string, AddressPool> _pools;
    private readonly NetworkDefinition? _default;
    private readonly TimeSpan _quarantine;
    private readonly Random _random;

    public AddressAllocator(SchedulerOptions options, Random random)
    {
        _pools = options.Networks.ToDictionary(n => n.Name, n => new AddressPool(n), StringComparer.Ordinal);
        _default = options.DefaultNetworkDefinition;
        _quarantine = options.AddressQuarantine;
        _random = random;
    }

    /// <summary>The network a lease asking for <paramref name="requested"/> gets: the default one for null, none when no networks are configured.</summary>
    /// <exception cref="UnknownNetworkException">The network is not configured.</exception>
    public NetworkDefinition? Resolve(string? requested) =>
        requested is null ? _default
        : _pools.TryGetValue(requested, out var pool) ? pool.Network
        : throw new UnknownNetworkException(requested, _pools.Keys.Order(StringComparer.Ordinal).ToList());

    /// <summary>
    /// Reserves the lowest free address of <paramref name="network"/> and a fresh MAC for the lease, or says why
    /// none is left. The lease itself may be written after this, in the same transaction.
    /// </summary>
    public bool TryAssign(ILeaseSession session, NetworkDefinition network, LeaseId lease, DateTimeOffset now,
        [NotNullWhen(true)] out NetworkAttachment? nic, out string refusal)
    {
        var pool = _pools[network.Name];
        session.ForgetExpiredQuarantine(network.Name, now);
        var held = session.AddressesOn(network.Name).Where(r => r.HoldsAt(now)).ToList();
        var address = pool.LowestFree(held.Select(r => Ipv4.ToUInt32(r.Address)).ToHashSet());
        if (address is null)
        {
            nic = null;
            refusal = Exhausted(pool, held);
            return false;
        }

        var mac = NewMac(session);
        session.Reserve(new AddressReservation(network.Name, address, lease, mac, AddressState.Assigned, null));
        nic = new NetworkAttachment(network.Name, mac, address, network.Cidr.PrefixLength, network.Gateway, new(network.DnsServers));
        refusal = string.Empty;
        return true;
    }

    /// <summary>The lease's workspace is gone (or will be): its addresses stay out of use until the quarantine has passed.</summary>
    public (int Count, DateTimeOffset Until) Quarantine(ILeaseSession session, LeaseId lease, DateTimeOffset now)
    {
        var until = now + _quarantine;
        return (session.Quarantine(lease, until), until);
    }

    /// <summary>E.g. "30m", "1h30m", "45s".</summary>
    public static string Human(TimeSpan span)
    {
        if (span <= TimeSpan.Zero)
        {
            return "0s";
        }

        var text = (span.Days > 0 ? $"{span.Days}d" : string.Empty) + (span.Hours > 0 ? $"{span.Hours}h" : string.Empty) +
                   (span.Minutes > 0 ? $"{span.Minutes}m" : string.Empty) + (span.Seconds > 0 ? $"{span.Seconds}s" : string.Empty);
        return text.Length == 0 ? $"{span.TotalMilliseconds:0}ms" : text;
    }

    private string Exhausted(AddressPool pool, List<AddressReservation> held)
    {
        var message = $"network {pool.Network.Name} ({pool.Network.Cidr}): all {pool.Size} addresses are assigned or in quarantine; " +
                      $"release a lease or wait for the quarantine ({Human(_quarantine)}) to pass";
        var next = held.Where(r => r.State == AddressState.Quarantined).Min(r => r.QuarantinedUntil);
        return next is { } at ? message + $" (the next one is free at {at:u})" : message;
    }

    private string NewMac(ILeaseSession session)
    {
        Span<byte> bytes = stackalloc byte[3];
        for (var draw = 0; draw < MacDraws; draw++)
        {
            // Random is not thread-safe; placements are serialized by the store, but nothing should depend on that here.
            lock (_random)
            {
                _random.NextBytes(bytes);
            }

            var mac = $"52:54:00:{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}";
            if (!session.MacInUse(mac))
            {
                return mac;
            }
        }

        throw new StoreException($"no unused MAC found in {MacDraws} random draws; the addresses table holds suspiciously many MACs");
    }
}
