using System.Net;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// One NIC of a lease's workspace, as assigned at placement: the network, the MAC and IPv4 address the
/// workspace may use there, and the network's gateway and DNS servers at that time. Kept with the lease after
/// it ends, so `ws show` can still say which address a finished workspace had.
/// </summary>
public sealed record NetworkAttachment(string Network, string Mac, IPAddress Address, int PrefixLength, IPAddress? Gateway, ValueList<IPAddress> DnsServers);

/// <summary>Whether a reserved address belongs to a live lease, or waits out its quarantine after the lease ended.</summary>
public enum AddressState
{
    Assigned,
    Quarantined,
}

/// <summary>
/// One address held on a network, by a live lease or in quarantine after one; at most one per address and per
/// MAC. A quarantined address whose time has passed is free again.
/// </summary>
public sealed record AddressReservation(string Network, IPAddress Address, LeaseId Lease, string Mac, AddressState State, DateTimeOffset? QuarantinedUntil)
{
    public bool HoldsAt(DateTimeOffset now) => State == AddressState.Assigned || QuarantinedUntil > now;
}
