using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary>How <c>ws quota</c> reads limits and renders quotas; separate from the commands so both are tested directly.</summary>
public static class QuotaView
{
    public const string Unlimited = "unlimited";

    /// <summary>A count limit: a whole number (0: unlimited) or "unlimited".</summary>
    public static uint Count(string text, string option) =>
        IsUnlimited(text) ? 0
        : uint.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count
        : throw new UsageException($"{option} '{Printable(text)}' is not a whole number; write e.g. 16, or {Unlimited}");

    /// <summary>A memory limit: a size such as 64G (0: unlimited) or "unlimited".</summary>
    public static ulong Size(string text, string option) => IsUnlimited(text) ? 0 : Parsing.Size(text, option);

    /// <summary>Core-hours: a number such as 1000 or 2.5 (0: unlimited) or "unlimited".</summary>
    public static double CoreHours(string text, string option) =>
        IsUnlimited(text) ? 0
        : double.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var hours) && double.IsFinite(hours) ? hours
        : throw new UsageException($"{option} '{Printable(text)}' is not a number of core-hours; write e.g. 1000 or 2.5, or {Unlimited}");

    /// <summary>A duration such as 7d or 1d12h (0s: unlimited, where that means something) or "unlimited".</summary>
    public static TimeSpan Span(string text, string option, bool unlimitedAllowed) =>
        unlimitedAllowed && IsUnlimited(text) ? TimeSpan.Zero : Parsing.Duration(text, option);

    /// <summary>A duration as ws takes it: 7d, 1d12h, 90m as 1h30m.</summary>
    public static string Span(TimeSpan span)
    {
        var builder = new StringBuilder();
        foreach (var (amount, unit) in new[] { (span.Days, 'd'), (span.Hours, 'h'), (span.Minutes, 'm'), (span.Seconds, 's') })
        {
            if (amount > 0)
            {
                builder.Append(CultureInfo.InvariantCulture, $"{amount}{unit}");
            }
        }

        return builder.Length == 0 ? "0s" : builder.ToString();
    }

    /// <summary>One quota in full: each limit with the use against it and where the limit comes from.</summary>
    public static string Render(Quota quota, DateTimeOffset now)
    {
        var isDefault = quota.Project == QuotaServiceMethods.DefaultProject;
        var l = quota.Limits ?? new QuotaLimits();
        var o = quota.Own ?? new QuotaLimits();
        var u = quota.Use ?? new QuotaUse();
        var budget = l.CoreHoursBudget > 0 ? $"{Hours(l.CoreHoursBudget)} per {Span(Time(l.Period))}" : Unlimited;
        var rows = new (string Name, string Use, string Limit, bool Own)[]
        {
            ("vCPUs", Number(u.Vcpus), l.MaxVcpus == 0 ? Unlimited : Number(l.MaxVcpus), o.HasMaxVcpus),
            ("memory", Units.Bytes(u.MemoryBytes), l.MaxMemoryBytes == 0 ? Unlimited : Units.Bytes(l.MaxMemoryBytes), o.HasMaxMemoryBytes),
            ("workspaces", Number(u.Workspaces), l.MaxWorkspaces == 0 ? Unlimited : Number(l.MaxWorkspaces), o.HasMaxWorkspaces),
            ("core-hours", l.CoreHoursBudget > 0 ? Hours(u.CoreHours) : "-", budget, o.HasCoreHoursBudget),
            ("lease duration", "-", Time(l.MaxLeaseDuration) == TimeSpan.Zero ? Unlimited : "at most " + Span(Time(l.MaxLeaseDuration)), o.MaxLeaseDuration is not null),
        };

        var builder = new StringBuilder();
        var table = isDefault ? new Table("LIMIT", "QUOTA") : new Table("LIMIT", "IN USE", "QUOTA", "FROM");
        foreach (var row in rows)
        {
            table.Add(isDefault ? [row.Name, row.Limit] : [row.Name, row.Use, row.Limit, row.Own ? "own" : "default"]);
        }

        builder.Append(isDefault
            ? "Default quota: every project without a setting of its own gets these limits.\n"
            : $"Quota of project {quota.Project}" + (rows.Any(r => r.Own) ? string.Empty : " (the default quota: it has no settings of its own)") + "\n");
        builder.Append(table);
        if (!isDefault && u.WindowStart is { } start)
        {
            builder.Append(CultureInfo.InvariantCulture,
                $"Core-hours are counted from {start.ToDateTimeOffset():yyyy-MM-dd HH:mm} UTC ({Span(Time(l.Period))} ago) on, and live leases count until they expire.\n");
        }

        if (quota.UpdatedAt is { } at)
        {
            builder.Append(CultureInfo.InvariantCulture, $"Own settings changed {at.ToDateTimeOffset():yyyy-MM-dd HH:mm} UTC ({Units.Ago(now - at.ToDateTimeOffset())}) by {quota.UpdatedBy}.\n");
        }

        return builder.ToString();
    }

    /// <summary>Every quota, one row each: use/limit for projects, the limits alone for the default ('*').</summary>
    public static string RenderList(IEnumerable<Quota> quotas)
    {
        var table = new Table("PROJECT", "VCPUS", "MEMORY", "WORKSPACES", "CORE-HOURS", "MAX DURATION", "CHANGED BY");
        foreach (var q in quotas)
        {
            var l = q.Limits ?? new QuotaLimits();
            var u = q.Use;
            string Cell(string use, string limit) => u is null ? limit : $"{use}/{limit}";
            table.Add(
                q.Project,
                Cell(Number(u?.Vcpus ?? 0), l.MaxVcpus == 0 ? Unlimited : Number(l.MaxVcpus)),
                Cell(Units.Bytes(u?.MemoryBytes ?? 0), l.MaxMemoryBytes == 0 ? Unlimited : Units.Bytes(l.MaxMemoryBytes)),
                Cell(Number(u?.Workspaces ?? 0), l.MaxWorkspaces == 0 ? Unlimited : Number(l.MaxWorkspaces)),
                l.CoreHoursBudget > 0 ? Cell(Hours(u?.CoreHours ?? 0), $"{Hours(l.CoreHoursBudget)} per {Span(Time(l.Period))}") : Unlimited,
                Time(l.MaxLeaseDuration) == TimeSpan.Zero ? Unlimited : Span(Time(l.MaxLeaseDuration)),
                q.UpdatedBy.Length == 0 ? "-" : q.UpdatedBy);
        }

        return table.ToString();
    }

    private static bool IsUnlimited(string text) => text.Trim().Equals(Unlimited, StringComparison.OrdinalIgnoreCase);

    private static string Hours(double hours) => hours.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Printable(string text) => NodeAgent.Contract.IdSyntax.Printable(text);

    private static TimeSpan Time(Duration? duration) => duration?.ToTimeSpan() ?? TimeSpan.Zero;
}
