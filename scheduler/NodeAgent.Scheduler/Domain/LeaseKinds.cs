namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// What happens to a lease that no host can take when it is asked for: Haizea's three kinds of lease.
/// docs/leases.md tells each one's rules.
/// </summary>
public enum LeaseKind
{
    /// <summary>Starts now or fails, with the reason.</summary>
    Immediate,

    /// <summary>
    /// Waits in its project's queue until a host can take it (FIFO within a project, fair share across projects);
    /// it runs for its full duration from when it is placed.
    /// </summary>
    BestEffort,

    /// <summary>
    /// An advance reservation: capacity on one host, chosen at admission, is promised over [start, end); it waits
    /// pending on that host and starts at its start.
    /// </summary>
    Reservation,
}

/// <summary>Lease kinds as the store spells them, and the limits of a best-effort lease's wait.</summary>
public static class LeaseKinds
{
    /// <summary>How long a best-effort lease waits for a host when its request says nothing.</summary>
    public static readonly TimeSpan DefaultQueueLimit = TimeSpan.FromDays(1);

    /// <summary>The longest a best-effort lease may wait for a host.</summary>
    public static readonly TimeSpan MaxQueueLimit = TimeSpan.FromDays(30);

    /// <summary>"immediate", "best_effort", "reservation": the store's spelling.</summary>
    public static string StoredName(LeaseKind kind) => kind switch
    {
        LeaseKind.BestEffort => "best_effort",
        LeaseKind.Reservation => "reservation",
        _ => "immediate",
    };

    /// <summary>The kind stored as <paramref name="text"/>; null for a spelling this scheduler does not know.</summary>
    public static LeaseKind? ParseStored(string text) => text switch
    {
        "immediate" => LeaseKind.Immediate,
        "best_effort" => LeaseKind.BestEffort,
        "reservation" => LeaseKind.Reservation,
        _ => null,
    };
}
