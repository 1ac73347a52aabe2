namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// A budget of core-hours (vCPUs × leased hours) per rolling <see cref="Period"/> ending now. 0 core-hours is
/// unlimited, and then the period means nothing (<see cref="TimeSpan.Zero"/>).
/// </summary>
public sealed record CoreHoursBudget(double CoreHours, TimeSpan Period)
{
    public static readonly CoreHoursBudget Unlimited = new(0, TimeSpan.Zero);

    public bool IsLimited => CoreHours > 0;

    /// <summary>The budget in vCPU-milliseconds, the unit leases are charged in, so a sum at the limit compares exactly.</summary>
    public double VcpuMilliseconds => CoreHours * ProjectUse.MillisecondsPerHour;
}

/// <summary>
/// The limits one quota row sets. Null is "not set here": a project's own row leaves the limit to the default
/// quota, and the default leaves it unlimited. 0 (and <see cref="CoreHoursBudget.Unlimited"/>, and a zero
/// duration) is unlimited, set explicitly — a project can be exempted from a limit the default sets.
/// </summary>
public sealed record QuotaSettings
{
    public static readonly QuotaSettings None = new();

    /// <summary>vCPUs of the project's live leases together.</summary>
    public int? MaxVcpus { get; init; }

    /// <summary>Memory of the project's live leases together.</summary>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>Live leases (workspaces) at once.</summary>
    public int? MaxWorkspaces { get; init; }

    public CoreHoursBudget? CoreHours { get; init; }

    /// <summary>The longest a lease may run, counted from its creation (extensions included).</summary>
    public TimeSpan? MaxLeaseDuration { get; init; }

    public bool IsEmpty => Equals(None);

    /// <summary>These settings, and <paramref name="fallback"/>'s where these set nothing.</summary>
    public QuotaSettings Over(QuotaSettings fallback) => new()
    {
        MaxVcpus = MaxVcpus ?? fallback.MaxVcpus,
        MaxMemoryBytes = MaxMemoryBytes ?? fallback.MaxMemoryBytes,
        MaxWorkspaces = MaxWorkspaces ?? fallback.MaxWorkspaces,
        CoreHours = CoreHours ?? fallback.CoreHours,
        MaxLeaseDuration = MaxLeaseDuration ?? fallback.MaxLeaseDuration,
    };
}

/// <summary>
/// A project's quota as in force: its <see cref="Own"/> settings over the <see cref="Default"/> quota's. The
/// limit properties are null when unlimited. For the default quota itself (<see cref="DefaultProject"/>),
/// <see cref="Own"/> is the default's settings and <see cref="Default"/> is empty.
/// </summary>
public sealed record ProjectQuota(string Project, QuotaSettings Own, QuotaSettings Default)
{
    /// <summary>The name the default quota is stored and asked for under; not a valid project id, so never a project.</summary>
    public const string DefaultProject = Contract.V1.QuotaServiceMethods.DefaultProject;

    /// <summary>When and by whom <see cref="Own"/> was last changed; null when the project has no settings of its own.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    public string UpdatedBy { get; init; } = string.Empty;

    public bool IsDefault => Project == DefaultProject;

    /// <summary>Every limit in force, each from the project's own settings or the default's.</summary>
    public QuotaSettings Limits => Own.Over(Default);

    public int? MaxVcpus => Limits.MaxVcpus is > 0 and var max ? max : null;

    public long? MaxMemoryBytes => Limits.MaxMemoryBytes is > 0 and var max ? max : null;

    public int? MaxWorkspaces => Limits.MaxWorkspaces is > 0 and var max ? max : null;

    public CoreHoursBudget? CoreHoursBudget => Limits.CoreHours is { IsLimited: true } budget ? budget : null;

    public TimeSpan? MaxLeaseDuration => Limits.MaxLeaseDuration is { } max && max > TimeSpan.Zero ? max : null;

    /// <summary>Whether any of the limits on what a project holds at once is set (they need the live leases counted).</summary>
    public bool LimitsConcurrentUse => MaxVcpus is not null || MaxMemoryBytes is not null || MaxWorkspaces is not null;
}

/// <summary>
/// What a project holds or has spent, or what a request would add: live leases (workspaces), their vCPUs and
/// memory together, and vCPU-milliseconds charged inside a core-hours window.
/// </summary>
public sealed record ProjectUse(int Workspaces, long Vcpus, long MemoryBytes, long VcpuMilliseconds)
{
    public const double MillisecondsPerHour = 3_600_000;

    public static readonly ProjectUse None = new(0, 0, 0, 0);

    public double CoreHours => VcpuMilliseconds / MillisecondsPerHour;

    /// <summary>What <paramref name="vcpus"/> held for <paramref name="time"/> are charged, in vCPU-milliseconds.</summary>
    public static long Charge(long vcpus, TimeSpan time) => vcpus * (long)time.TotalMilliseconds;
}

/// <summary>A change of a project's own quota settings, as an admin asks for it: null fields keep their value.</summary>
public sealed record QuotaChange
{
    /// <summary>Drop the own settings before applying the rest.</summary>
    public bool Reset { get; init; }

    public int? MaxVcpus { get; init; }

    public long? MaxMemoryBytes { get; init; }

    public int? MaxWorkspaces { get; init; }

    /// <summary>Core-hours per period (0: unlimited); with no <see cref="Period"/>, the period in force is kept.</summary>
    public double? CoreHours { get; init; }

    /// <summary>The core-hours period; with no <see cref="CoreHours"/>, the budget in force gets this period.</summary>
    public TimeSpan? Period { get; init; }

    public TimeSpan? MaxLeaseDuration { get; init; }

    /// <summary>
    /// The own settings after this change. <paramref name="fallback"/> (the default's settings; none for the default
    /// itself) supplies the budget or period a change of only one of them keeps.
    /// </summary>
    /// <exception cref="InvalidQuotaException">A budget without any period, or a period without any budget.</exception>
    public QuotaSettings Apply(QuotaSettings own, QuotaSettings fallback)
    {
        var start = Reset ? QuotaSettings.None : own;
        var inForce = (start.CoreHours ?? fallback.CoreHours) is { IsLimited: true } budget ? budget : null;
        var coreHours = start.CoreHours;
        if (CoreHours is 0)
        {
            coreHours = CoreHoursBudget.Unlimited;
        }
        else if (CoreHours is { } hours)
        {
            var period = Period ?? inForce?.Period ?? throw new InvalidQuotaException(
                $"a budget of {hours:0.###} core-hours needs a period it is spent in; give one, e.g. --period 30d (period in SetQuota)");
            coreHours = new CoreHoursBudget(hours, period);
        }
        else if (Period is { } period)
        {
            coreHours = inForce is null
                ? throw new InvalidQuotaException("a period was given but the project has no core-hours budget; give both, e.g. --core-hours 1000 --period 30d")
                : inForce with { Period = period };
        }

        return start with
        {
            MaxVcpus = MaxVcpus ?? start.MaxVcpus,
            MaxMemoryBytes = MaxMemoryBytes ?? start.MaxMemoryBytes,
            MaxWorkspaces = MaxWorkspaces ?? start.MaxWorkspaces,
            CoreHours = coreHours,
            MaxLeaseDuration = MaxLeaseDuration ?? start.MaxLeaseDuration,
        };
    }
}

/// <summary>A quota change that cannot be made as asked; the message says what to give instead.</summary>
public sealed class InvalidQuotaException : Exception
{
    public InvalidQuotaException(string message)
        : base(message)
    {
    }

    public InvalidQuotaException()
    {
    }

    public InvalidQuotaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A lease change a project's quota does not allow; the message names each limit, by how much, and what to do.</summary>
public sealed class QuotaExceededException : Exception
{
    public QuotaExceededException(string message)
        : base(message)
    {
    }

    public QuotaExceededException()
    {
    }

    public QuotaExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
