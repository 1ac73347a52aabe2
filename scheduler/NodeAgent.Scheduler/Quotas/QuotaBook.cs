using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Quotas;

/// <summary>
/// A project's quota with what it uses now. <see cref="Use"/> is null for the default quota, which no lease is
/// charged to; <see cref="WindowStart"/> is where the core-hours window begins (null without a budget, and then the
/// use carries no core-hours).
/// </summary>
public sealed record QuotaStatus(ProjectQuota Quota, ProjectUse? Use, DateTimeOffset? WindowStart);

/// <summary>
/// Quotas as people read and change them: each with its project's use, counted the way <see cref="QuotaAdmission"/>
/// counts it, and changes of a project's own settings.
/// </summary>
public sealed class QuotaBook(IQuotaStore quotas, ILeaseStore leases, TimeProvider time)
{
    /// <summary>The project's quota in force and its use; a project with no settings of its own gets the default's.</summary>
    public QuotaStatus Get(string project)
    {
        var now = time.GetUtcNow();
        return leases.Read(session => Status(session, session.QuotaOf(project), now));
    }

    /// <summary>The default quota, then every project with settings of its own, each with its use.</summary>
    public IReadOnlyList<QuotaStatus> List()
    {
        var now = time.GetUtcNow();
        var all = quotas.List();
        return leases.Read(session => all.Select(quota => Status(session, quota, now)).ToList());
    }

    /// <summary>Applies <paramref name="change"/> to the project's own settings (or the default's) and answers the quota then in force.</summary>
    /// <exception cref="InvalidQuotaException">The change leaves a core-hours budget without a period, or a period without a budget.</exception>
    public async Task<QuotaStatus> ChangeAsync(string project, QuotaChange change, string by, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var quota = await quotas.ChangeAsync(project, change.Apply, by, now, cancellationToken);
        return leases.Read(session => Status(session, quota, now));
    }

    private static QuotaStatus Status(ILeaseSession session, ProjectQuota quota, DateTimeOffset now)
    {
        if (quota.IsDefault)
        {
            return new QuotaStatus(quota, null, null);
        }

        // Live use is shown even for unlimited projects, so people see what they hold.
        var use = session.LiveUseOf(quota.Project);
        if (quota.CoreHoursBudget is not { } budget)
        {
            return new QuotaStatus(quota, use, null);
        }

        return new QuotaStatus(quota, use with { VcpuMilliseconds = QuotaAdmission.Charged(session, quota.Project, budget, now) }, now - budget.Period);
    }
}
