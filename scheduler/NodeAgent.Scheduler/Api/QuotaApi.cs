using Google.Protobuf.WellKnownTypes;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Rpc;
using NodeAgent.Scheduler.Quotas;
using NodeAgent.Scheduler.Security;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// nodeagent.v1.QuotaService: validates quota requests, every problem at once, and translates them to and from
/// <see cref="QuotaBook"/>.
/// </summary>
internal sealed class QuotaApi(QuotaBook book) : V1.QuotaServiceBase
{
    /// <summary>The largest vCPU and workspace limits: far above any cloud's, and sums of them stay exact.</summary>
    public const uint MaxCount = 1 << 20;

    /// <summary>The largest memory limit, 1 EiB.</summary>
    public const ulong MaxMemoryBytes = 1UL << 60;

    /// <summary>The largest core-hours budget: in vCPU-milliseconds it still fits a double exactly.</summary>
    public const double MaxCoreHours = 1e9;

    /// <summary>The shortest core-hours period: a shorter one would refuse any lease of more than a few vCPU-minutes.</summary>
    public static readonly TimeSpan MinPeriod = TimeSpan.FromHours(1);

    /// <summary>The shortest lease maximum: the shortest lease CreateLease takes.</summary>
    public static readonly TimeSpan MinLeaseDuration = TimeSpan.FromMinutes(1);

    public override Task<V1.Quota> GetQuota(V1.GetQuotaRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("GetQuota");
        var caller = Caller.Of(context);
        var project = request.Project.Length > 0 ? Project(v, request.Project) : caller.LeaseProject;
        v.ThrowIfInvalid();
        if (!caller.IsAdmin && project != caller.Project)
        {
            throw new RpcException(StatusCode.PermissionDenied, $"GetQuota: this token ({caller.Describe()}) reads its own project's quota only");
        }

        return Task.FromResult(ToWire(book.Get(project)));
    }

    public override Task<V1.ListQuotasResponse> ListQuotas(V1.ListQuotasRequest request, ServerCallContext context)
    {
        var response = new V1.ListQuotasResponse();
        response.Quotas.Add(book.List().Select(ToWire));
        return Task.FromResult(response);
    }

    public override async Task<V1.Quota> SetQuota(V1.SetQuotaRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SetQuota");
        var project = Project(v, request.Project);
        var by = Caller.Of(context).User;
        var change = Change(request.Limits ?? new V1.QuotaLimits(), request.Reset, v);
        v.ThrowIfInvalid();
        return ToWire(await book.ChangeAsync(project, change, by, context.CancellationToken));
    }

    private static QuotaChange Change(V1.QuotaLimits limits, bool reset, RequestValidator v) => new()
    {
        Reset = reset,
        MaxVcpus = limits.HasMaxVcpus ? (int)v.Range("limits.max_vcpus", limits.MaxVcpus, 0, MaxCount) : null,
        MaxMemoryBytes = limits.HasMaxMemoryBytes ? v.Range("limits.max_memory_bytes", limits.MaxMemoryBytes, 0, MaxMemoryBytes) : null,
        MaxWorkspaces = limits.HasMaxWorkspaces ? (int)v.Range("limits.max_workspaces", limits.MaxWorkspaces, 0, MaxCount) : null,
        CoreHours = limits.HasCoreHoursBudget ? CoreHours(v, limits.CoreHoursBudget) : null,
        Period = limits.Period is null ? null : WholeSeconds(v, "limits.period", limits.Period, MinPeriod, allowZero: false),
        MaxLeaseDuration = limits.MaxLeaseDuration is null ? null : WholeSeconds(v, "limits.max_lease_duration", limits.MaxLeaseDuration, MinLeaseDuration, allowZero: true),
    };

    private static double CoreHours(RequestValidator v, double value)
    {
        var hours = v.NonNegative("limits.core_hours_budget", value);
        v.Require(hours <= MaxCoreHours, $"limits.core_hours_budget is {value}; it must be at most {MaxCoreHours:0}");
        return Math.Min(hours, MaxCoreHours);
    }

    /// <summary>A duration of whole seconds between <paramref name="min"/> and the longest lease (or 0, when that means unlimited).</summary>
    private static TimeSpan WholeSeconds(RequestValidator v, string field, Duration value, TimeSpan min, bool allowZero)
    {
        if (allowZero && value.Seconds == 0 && value.Nanos == 0)
        {
            return TimeSpan.Zero;
        }

        var span = v.Duration(field, value, min, LeaseManager.MaxLifetime);
        v.Require(value.Nanos == 0, $"{field} has {value.Nanos} nanoseconds; give whole seconds");
        return span;
    }

    /// <summary>A project name, or <see cref="ProjectQuota.DefaultProject"/> for the default quota.</summary>
    private static string Project(RequestValidator v, string project)
    {
        if (project == ProjectQuota.DefaultProject)
        {
            return project;
        }

        v.Require(project.Length > 0, $"project is empty; name a project, or '{ProjectQuota.DefaultProject}' for the default quota");
        return project.Length > 0 ? v.Name("project", project) : project;
    }

    private static V1.Quota ToWire(QuotaStatus status)
    {
        var quota = status.Quota;
        var wire = new V1.Quota { Project = quota.Project, Limits = ToWire(quota.Limits, every: true), Own = ToWire(quota.Own, every: false), UpdatedBy = quota.UpdatedBy };
        if (quota.UpdatedAt is { } at)
        {
            wire.UpdatedAt = Timestamp.FromDateTimeOffset(at);
        }

        if (status.Use is { } use)
        {
            wire.Use = new V1.QuotaUse
            {
                Vcpus = (uint)use.Vcpus,
                MemoryBytes = (ulong)use.MemoryBytes,
                Workspaces = (uint)use.Workspaces,
                CoreHours = use.CoreHours,
                WindowStart = status.WindowStart is { } start ? Timestamp.FromDateTimeOffset(start) : null,
            };
        }

        return wire;
    }

    /// <summary>The settings on the wire; with <paramref name="every"/>, limits not set are there too, as 0 (unlimited).</summary>
    private static V1.QuotaLimits ToWire(QuotaSettings settings, bool every)
    {
        var wire = new V1.QuotaLimits();
        if (every || settings.MaxVcpus is not null)
        {
            wire.MaxVcpus = (uint)(settings.MaxVcpus ?? 0);
        }

        if (every || settings.MaxMemoryBytes is not null)
        {
            wire.MaxMemoryBytes = (ulong)(settings.MaxMemoryBytes ?? 0);
        }

        if (every || settings.MaxWorkspaces is not null)
        {
            wire.MaxWorkspaces = (uint)(settings.MaxWorkspaces ?? 0);
        }

        if (every || settings.CoreHours is not null)
        {
            var budget = settings.CoreHours ?? CoreHoursBudget.Unlimited;
            wire.CoreHoursBudget = budget.CoreHours;
            wire.Period = Duration.FromTimeSpan(budget.Period);
        }

        if (every || settings.MaxLeaseDuration is not null)
        {
            wire.MaxLeaseDuration = Duration.FromTimeSpan(settings.MaxLeaseDuration ?? TimeSpan.Zero);
        }

        return wire;
    }
}
