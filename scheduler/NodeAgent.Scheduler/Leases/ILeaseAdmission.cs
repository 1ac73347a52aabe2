using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// A rule a new lease must pass before it is placed (a project's quota, a reservation's window), checked inside the
/// transaction that stores the lease, so two concurrent requests cannot both pass on the same headroom.
/// </summary>
public interface ILeaseAdmission
{
    /// <summary>Null to admit the lease; otherwise why not, naming the rule and by how much it is exceeded.</summary>
    string? Refuse(ILeaseSession session, Lease lease, DateTimeOffset now);
}
