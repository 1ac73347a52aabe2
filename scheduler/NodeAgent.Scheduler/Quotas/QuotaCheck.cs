using System.Globalization;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Quotas;

/// <summary>What a request asks of a project's quota: the use it adds, and how long the lease would then run.</summary>
/// <param name="Add">Workspaces, vCPUs and memory added to the project's live use, and vCPU-milliseconds charged.</param>
/// <param name="Lifetime">The lease's time from its creation to its (new) end, checked against the longest allowed.</param>
/// <param name="Extension">Null for a new lease; for an extension, how long the lease runs before it (for the fix the message suggests).</param>
public sealed record QuotaAsk(ProjectUse Add, TimeSpan Lifetime, TimeSpan? Extension = null);

/// <summary>
/// Decides whether an ask fits a quota, and says why not. Every limit is checked and each exceeded one named with
/// by how much, so a refused user learns everything at once. A limit is checked only against what the ask adds:
/// an extension adds no workspace, so a workspace limit lowered below what a project holds never blocks it.
/// </summary>
public static class QuotaCheck
{
    /// <summary>Null when <paramref name="ask"/> fits <paramref name="quota"/> on top of <paramref name="use"/>; otherwise the refusal.</summary>
    public static string? Refusal(ProjectQuota quota, ProjectUse use, QuotaAsk ask)
    {
        var project = quota.Project;
        var add = ask.Add;
        var limits = new List<string>();
        if (quota.MaxVcpus is { } vcpus && add.Vcpus > 0 && use.Vcpus + add.Vcpus > vcpus)
        {
            limits.Add(Exceeded(project, $"{vcpus} vCPUs", Number(use.Vcpus + add.Vcpus - vcpus), Number(use.Vcpus), Number(add.Vcpus), "in use"));
        }

        if (quota.MaxMemoryBytes is { } memory && add.MemoryBytes > 0 && use.MemoryBytes + add.MemoryBytes > memory)
        {
            limits.Add(Exceeded(project, $"{QuotaText.Bytes(memory)} of memory", QuotaText.Bytes(use.MemoryBytes + add.MemoryBytes - memory),
                QuotaText.Bytes(use.MemoryBytes), QuotaText.Bytes(add.MemoryBytes), "in use"));
        }

        if (quota.MaxWorkspaces is { } workspaces && add.Workspaces > 0 && use.Workspaces + add.Workspaces > workspaces)
        {
            limits.Add(Exceeded(project, $"{workspaces} workspaces", Number(use.Workspaces + add.Workspaces - workspaces),
                Number(use.Workspaces), Number(add.Workspaces), "in use"));
        }

        if (quota.CoreHoursBudget is { } budget && add.VcpuMilliseconds > 0 && use.VcpuMilliseconds + add.VcpuMilliseconds > budget.VcpuMilliseconds)
        {
            var over = (use.VcpuMilliseconds + add.VcpuMilliseconds - budget.VcpuMilliseconds) / ProjectUse.MillisecondsPerHour;
            limits.Add(Exceeded(project, $"{QuotaText.CoreHours(budget.CoreHours)} core-hours per {QuotaText.Duration(budget.Period)}", QuotaText.CoreHours(over),
                QuotaText.CoreHours(use.CoreHours), QuotaText.CoreHours(add.CoreHours), "already charged"));
        }

        string? duration = null;
        string? shorter = null;
        if (quota.MaxLeaseDuration is { } max && ask.Lifetime > max)
        {
            if (ask.Extension is { } before)
            {
                duration = $"the lease would then run {QuotaText.Duration(ask.Lifetime)} from its creation, project {project} may lease at most {QuotaText.Duration(max)}";
                shorter = before < max ? $"extend it by at most {QuotaText.Duration(max - before)}" : "lease a new workspace instead of extending this one";
            }
            else
            {
                duration = $"the lease asks {QuotaText.Duration(ask.Lifetime)}, project {project} may lease at most {QuotaText.Duration(max)}";
                shorter = $"ask for at most {QuotaText.Duration(max)}";
            }
        }

        if (limits.Count == 0 && duration is null)
        {
            return null;
        }

        IEnumerable<string> reasons = duration is null ? limits : [duration, .. limits];
        IEnumerable<string> fixes = shorter is null ? [] : [shorter];
        if (limits.Count > 0)
        {
            fixes = fixes.Append("release a lease or ask an admin for more");
        }

        return $"{string.Join("; ", reasons)}; {string.Join(", or ", fixes)} (ws quota show {project})";
    }

    private static string Exceeded(string project, string quota, string over, string use, string add, string useWord) =>
        $"project {project}'s quota of {quota} would be exceeded by {over} ({use} {useWord} + {add} asked)";

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
