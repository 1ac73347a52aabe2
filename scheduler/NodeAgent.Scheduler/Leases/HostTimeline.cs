using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// What one host has promised over time: each placed lease holds its claim until its end, each advance reservation
/// holds its claim over its window [start, end). Windows are half-open, so a lease that ends exactly when a
/// reservation starts never meets it. The source of truth for "does this fit on this host from then to then"
/// when a reservation is admitted, a lease is placed in front of one, or a lease is extended into one.
/// </summary>
/// <remarks>
/// What is held only falls over time and what is reserved only rises at a reservation's start, so the busiest
/// moment of a window is at its beginning or at the start of a reservation inside it: those are the only moments
/// examined. Each resource peaks on its own; a claim fits the window when it fits every resource's peak.
/// </remarks>
/// <param name="host">The host, with what foreign domains use on it now.</param>
/// <param name="held">The leases that hold capacity on this host (each until its end).</param>
/// <param name="reservations">The reservations on this host that have not started.</param>
public sealed class HostTimeline(HostRecord host, IEnumerable<Lease> held, IEnumerable<Lease> reservations)
{
    private readonly Lease[] _held = held.ToArray();
    private readonly Lease[] _reservations = reservations.ToArray();

    public HostRecord Host { get; } = host;

    /// <summary>What the host can give its leases: its capacity less what foreign domains use now.</summary>
    public Resources Capacity => new(
        Host.Registration.Capacity.Vcpus - Host.Load.Foreign.Vcpus,
        Host.Registration.Capacity.MemoryBytes - Host.Load.Foreign.MemoryBytes,
        Host.Registration.Capacity.DiskBytes);

    /// <summary>Whether any reservation is on this timeline.</summary>
    public bool HasReservations => _reservations.Length > 0;

    /// <summary>What the placed leases that end after <paramref name="at"/> hold.</summary>
    public Resources HeldAt(DateTimeOffset at) => Sum(_held.Where(l => l.ExpiresAt > at));

    /// <summary>What the reservations whose window contains <paramref name="at"/> claim.</summary>
    public Resources ReservedAt(DateTimeOffset at) => Sum(ReservationsAt(at));

    /// <summary>The reservations whose window contains <paramref name="at"/>, earliest start first.</summary>
    public IEnumerable<Lease> ReservationsAt(DateTimeOffset at) =>
        _reservations.Where(r => r.StartAt <= at && at < r.ExpiresAt).OrderBy(r => r.StartAt).ThenBy(r => r.Id.Value, StringComparer.Ordinal);

    /// <summary>
    /// Per resource, the most promised (held and reserved) at any moment of [<paramref name="from"/>, <paramref name="to"/>).
    /// <paramref name="heldAtFrom"/> replaces what is held at <paramref name="from"/> itself: placing a lease now counts
    /// every lease on the host, also one whose end has passed but whose workspace is still there.
    /// </summary>
    public Resources PeakOver(DateTimeOffset from, DateTimeOffset to, Resources? heldAtFrom = null)
    {
        var peak = Resources.None;
        foreach (var at in Moments(from, to))
        {
            peak = Max(peak, PromisedAt(at, from, heldAtFrom));
        }

        return peak;
    }

    /// <summary>
    /// The first moment of [<paramref name="from"/>, <paramref name="to"/>) at which <paramref name="claim"/> does not
    /// fit while a reservation is on; null when it fits at every such moment. Moments without a reservation are not
    /// judged: what the host holds then is not a reservation's business.
    /// </summary>
    public DateTimeOffset? FirstReservationConflict(Resources claim, DateTimeOffset from, DateTimeOffset to)
    {
        var capacity = Capacity;
        foreach (var at in Moments(from, to))
        {
            if (ReservationsAt(at).Any() && !PromisedAt(at, from, null).Add(claim).Fits(capacity))
            {
                return at;
            }
        }

        return null;
    }

    /// <summary>Per resource, how much of <paramref name="total"/> is beyond <paramref name="part"/> (never below zero).</summary>
    public static Resources Beyond(Resources total, Resources part) => new(
        Math.Max(0, total.Vcpus - part.Vcpus), Math.Max(0, total.MemoryBytes - part.MemoryBytes), Math.Max(0, total.DiskBytes - part.DiskBytes));

    private Resources PromisedAt(DateTimeOffset at, DateTimeOffset from, Resources? heldAtFrom) =>
        (at == from && heldAtFrom is { } held ? held : HeldAt(at)).Add(ReservedAt(at));

    /// <summary>The window's start and every reservation start inside it, in order.</summary>
    private IEnumerable<DateTimeOffset> Moments(DateTimeOffset from, DateTimeOffset to) =>
        _reservations.Select(r => r.StartAt!.Value).Where(s => s > from && s < to).Append(from).Distinct().Order();

    private static Resources Sum(IEnumerable<Lease> leases) => leases.Aggregate(Resources.None, (sum, l) => sum.Add(l.Claim));

    private static Resources Max(Resources a, Resources b) =>
        new(Math.Max(a.Vcpus, b.Vcpus), Math.Max(a.MemoryBytes, b.MemoryBytes), Math.Max(a.DiskBytes, b.DiskBytes));
}
