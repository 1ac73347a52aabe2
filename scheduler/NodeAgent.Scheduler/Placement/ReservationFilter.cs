namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// A workspace must leave room for the advance reservations on the host during its time there: it fits what is
/// free now less what reservations need at the busiest moment (<see cref="PlacementCandidate.Reserved"/>). This is
/// what makes a reservation a guarantee: nothing placed before it starts can take its capacity.
/// </summary>
public sealed class ReservationFilter : IHostFilter
{
    /// <summary>The rejection reason; the request's lease could have the host now, but not for as long as it asks.</summary>
    public const string Reason = "capacity reserved for an advance reservation";

    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        var reserved = candidate.Reserved;
        if (reserved.Vcpus == 0 && reserved.MemoryBytes == 0 && reserved.DiskBytes == 0)
        {
            return null;
        }

        var free = candidate.Free;
        return request.Resources.Vcpus > free.Vcpus - reserved.Vcpus
            || request.Resources.MemoryBytes > free.MemoryBytes - reserved.MemoryBytes
            || request.Resources.DiskBytes > free.DiskBytes - reserved.DiskBytes
            ? Reason
            : null;
    }
}
