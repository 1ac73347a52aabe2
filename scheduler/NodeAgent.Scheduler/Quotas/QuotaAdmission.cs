using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Quotas;

/// <summary>
/// Admits a new lease, or an extension of one, only within its project's quota (docs/quotas.md). It reads the
/// quota and the project's use in the caller's write transaction, so concurrent requests are counted one after
/// the other and cannot together pass a limit that each alone fits.
/// </summary>
public sealed class QuotaAdmission : ILeaseAdmission
{
    /// <summary>The end of the core-hours window: live leases are charged until they expire, however far ahead.</summary>
    private static readonly DateTimeOffset Forever = DateTimeOffset.MaxValue;

    /// <summary>The project a lease is charged to; the store's project queries match leases the same way (<see cref="ILeaseSession.LiveUseOf"/>).</summary>
    public static string ProjectOf(Lease lease) => lease.Project;

    /// <summary>
    /// Null to admit <paramref name="lease"/> (a new, not yet stored lease): it adds one workspace, its vCPUs and
    /// memory, and is charged vCPUs × its whole leased time up front; its duration must not pass the maximum.
    /// </summary>
    public string? Refuse(ILeaseSession session, Lease lease, DateTimeOffset now)
    {
        var quota = session.QuotaOf(ProjectOf(lease));
        var lifetime = lease.ExpiresAt - lease.CreatedAt;
        var add = new ProjectUse(1, lease.Resources.Vcpus, lease.Resources.MemoryBytes, ProjectUse.Charge(lease.Resources.Vcpus, lifetime));
        return QuotaCheck.Refusal(quota, UseOf(session, quota, now), new QuotaAsk(add, lifetime));
    }

    /// <summary>
    /// Null to let <paramref name="lease"/> (stored, live) run until <paramref name="newExpiry"/>: the lease must not
    /// then run longer from its creation than the project's maximum, and the added time (vCPUs × the extension) must
    /// fit the core-hours budget. Limits on what is held at once do not apply: the lease holds it already.
    /// </summary>
    public string? RefuseExtension(ILeaseSession session, Lease lease, DateTimeOffset newExpiry, DateTimeOffset now)
    {
        var quota = session.QuotaOf(ProjectOf(lease));
        var added = newExpiry - lease.ExpiresAt;
        var add = ProjectUse.None with { VcpuMilliseconds = added > TimeSpan.Zero ? ProjectUse.Charge(lease.Resources.Vcpus, added) : 0 };
        return QuotaCheck.Refusal(quota, UseOf(session, quota, now), new QuotaAsk(add, newExpiry - lease.CreatedAt, lease.ExpiresAt - lease.CreatedAt));
    }

    /// <summary>
    /// What the project uses that its quota limits, read only as far as a limit needs it: a project with no limits
    /// costs the admission one query. Core-hours are charged from the window's start (now − period) on.
    /// </summary>
    public static ProjectUse UseOf(ILeaseSession session, ProjectQuota quota, DateTimeOffset now)
    {
        var use = quota.LimitsConcurrentUse ? session.LiveUseOf(quota.Project) : ProjectUse.None;
        return quota.CoreHoursBudget is { } budget ? use with { VcpuMilliseconds = Charged(session, quota.Project, budget, now) } : use;
    }

    /// <summary>
    /// vCPU-milliseconds charged to the project in <paramref name="budget"/>'s window: leased time from now − period
    /// on, including what live leases hold until they expire (a new lease is charged the same way, up front).
    /// </summary>
    public static long Charged(ILeaseSession session, string project, CoreHoursBudget budget, DateTimeOffset now) =>
        session.VcpuMillisecondsOf(project, now - budget.Period, Forever);
}
