using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Domain;

/// <summary>An amount of compute: a host's capacity, a lease's request, or what is allocated.</summary>
public sealed record Resources(int Vcpus, long MemoryBytes, long DiskBytes)
{
    public static readonly Resources None = new(0, 0, 0);

    public Resources Add(Resources other) => new(Vcpus + other.Vcpus, MemoryBytes + other.MemoryBytes, DiskBytes + other.DiskBytes);

    public Resources Subtract(Resources other) => new(Vcpus - other.Vcpus, MemoryBytes - other.MemoryBytes, DiskBytes - other.DiskBytes);

    public bool Fits(Resources capacity) => Vcpus <= capacity.Vcpus && MemoryBytes <= capacity.MemoryBytes && DiskBytes <= capacity.DiskBytes;
}

/// <summary>
/// What a host's agent measured: its real load, as opposed to what is allocated on it, and what domains
/// NodeAgent did not create are given (capacity in use that no lease accounts for).
/// </summary>
public sealed record HostLoad(double CpuUtilization, long MemoryAvailableBytes, double LoadAverage1m, int RunningWorkspaces, Resources Foreign)
{
    public static readonly HostLoad Unknown = new(0, 0, 0, 0, Resources.None);
}

/// <summary>What an agent says about its host when it registers.</summary>
public sealed record HostRegistration(
    HostId Id,
    string Hostname,
    string AgentVersion,
    string Architecture,
    string DomainType,
    Resources Capacity,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<string> Features)
{
    /// <summary>The networks the host has a bridge for; only leases on these networks are placed there.</summary>
    public IReadOnlyList<string> Networks { get; init; } = [];
}

/// <summary>
/// How a host is doing, from its heartbeats. <see cref="Down"/> is what people read as "unreachable": no heartbeat
/// within the TTL. Nothing ends or moves a down host's leases: its workspaces may still run, and the two sides
/// reconcile when its heartbeats return.
/// </summary>
public enum HostHealth
{
    Up,
    Down,

    /// <summary>Heartbeats arrive but the agent says it cannot take new work.</summary>
    Degraded,
}

/// <summary>A host as the scheduler knows it.</summary>
public sealed record HostRecord(
    HostRegistration Registration,
    HostLoad Load,
    Resources Allocated,
    DateTimeOffset RegisteredAt,
    DateTimeOffset? LastHeartbeatAt,
    long DesiredVersion,
    string DegradedReason = "")
{
    public HostId Id => Registration.Id;

    /// <summary>Whether an operator lets the scheduler place new workspaces here; enabled unless one changed it.</summary>
    public HostAdmin Admin { get; init; } = HostAdmin.Default;

    /// <summary>How many of its leases are stopping: their workspaces are being removed (kept in the host cache on SQLite, by triggers on PostgreSQL).</summary>
    public int StoppingLeases { get; init; }

    /// <summary>What is left for new leases: capacity less what leases hold and what foreign domains use.</summary>
    public Resources Free => new(
        Registration.Capacity.Vcpus - Allocated.Vcpus - Load.Foreign.Vcpus,
        Registration.Capacity.MemoryBytes - Allocated.MemoryBytes - Load.Foreign.MemoryBytes,
        Registration.Capacity.DiskBytes - Allocated.DiskBytes);

    /// <summary>
    /// The host after <paramref name="heartbeat"/>, as the store keeps it: times to the millisecond, and no disk in
    /// what foreign domains use.
    /// </summary>
    public HostRecord With(Heartbeat heartbeat) => this with
    {
        Registration = Registration with { Capacity = heartbeat.Capacity },
        Load = heartbeat.Load with { Foreign = heartbeat.Load.Foreign with { DiskBytes = 0 } },
        LastHeartbeatAt = DateTimeOffset.FromUnixTimeMilliseconds(heartbeat.ReceivedAt.ToUnixTimeMilliseconds()),
        DegradedReason = heartbeat.DegradedReason,
    };

    public HostHealth HealthAt(DateTimeOffset now, TimeSpan ttl) => HealthOf(LastHeartbeatAt, DegradedReason.Length > 0, now, ttl);

    /// <summary>Down without a heartbeat within <paramref name="ttl"/>, else degraded when its agent says so, else up.</summary>
    public static HostHealth HealthOf(DateTimeOffset? lastHeartbeatAt, bool degraded, DateTimeOffset now, TimeSpan ttl) =>
        lastHeartbeatAt is not { } last || now - last > ttl ? HostHealth.Down
        : degraded ? HostHealth.Degraded
        : HostHealth.Up;

    /// <summary>How long the host has been silent, for people: "no heartbeat for 47 s".</summary>
    public string SilenceAt(DateTimeOffset now) =>
        LastHeartbeatAt is { } last ? "no heartbeat for " + Span(now - last) : "no heartbeat yet";

    private static string Span(TimeSpan span) => span.TotalSeconds switch
    {
        < 120 => $"{Math.Max(0, (long)span.TotalSeconds)} s",
        < 7200 => $"{(long)span.TotalMinutes} min",
        < 172_800 => $"{(long)span.TotalHours} h",
        _ => $"{(long)span.TotalDays} days",
    };
}

/// <summary>A heartbeat as the scheduler stores it.</summary>
public sealed record Heartbeat(HostId HostId, Resources Capacity, HostLoad Load, DateTimeOffset ReceivedAt, string DegradedReason = "");
