using System.Globalization;
using System.Text.RegularExpressions;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary>How <c>ws usage</c> reads dates and renders totals; separate from the command so both are tested directly.</summary>
public static partial class UsageView
{
    /// <summary>
    /// "2026-11-01" (midnight UTC), "2026-11-01T09:00" or "2026-11-01T09:00:30" (UTC), or a duration back from
    /// <paramref name="now"/> ("7d", "12h", "1d12h").
    /// </summary>
    public static DateTimeOffset Date(string text, string option, DateTimeOffset now)
    {
        var trimmed = text.Trim();
        if (DatePattern().IsMatch(trimmed))
        {
            string[] formats = ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss"];
            return DateTimeOffset.TryParseExact(trimmed.TrimEnd('Z', 'z'), formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date)
                ? date
                : throw new UsageException($"{option} '{text}' is not a real date and time; write e.g. 2026-11-01 or 2026-11-01T09:00 (UTC)");
        }

        try
        {
            return now - Parsing.Duration(trimmed, option);
        }
        catch (UsageException)
        {
            throw new UsageException($"{option} '{text}' is not a date; write 2026-11-01, 2026-11-01T09:00 (UTC), or a time back from now such as 7d or 12h");
        }
    }

    /// <summary>Midnight UTC on the first day of <paramref name="now"/>'s month: where ws usage starts by default.</summary>
    public static DateTimeOffset StartOfMonth(DateTimeOffset now) => new(now.UtcDateTime.Year, now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// One row per total (a "total" row under several), in hours, GiB-hours and bytes. <paramref name="by"/>
    /// names the grouping column; null leaves it out.
    /// </summary>
    public static string Render(IReadOnlyList<UsageTotal> totals, string? by, string heading)
    {
        if (totals.Count == 0)
        {
            return heading + "\nNo usage recorded in this range.\n";
        }

        string[] columns = ["RECORDS", "CPU-HOURS", "VCPU-HOURS", "MEM GIB-HOURS", "POWERED-ON HOURS", "NET IN", "NET OUT", "DISK READ", "DISK WRITE"];
        var table = new Table(by is null ? columns : [by.ToUpperInvariant(), .. columns]);
        var rows = totals.Count > 1 && by is not null ? [.. totals, Sum(totals)] : totals;
        foreach (var t in rows)
        {
            string[] cells =
            [
                t.Records.ToString(CultureInfo.InvariantCulture), Hours(t.CpuSeconds), Hours(t.VcpuSeconds),
                Hours(t.MemoryByteSeconds / (1UL << 30)), Hours(t.PoweredOnSeconds),
                Units.Bytes(t.NetRxBytes), Units.Bytes(t.NetTxBytes), Units.Bytes(t.DiskReadBytes), Units.Bytes(t.DiskWriteBytes),
            ];
            table.Add(by is null ? cells : [t.Key.Length == 0 ? "total" : t.Key, .. cells]);
        }

        return heading + "\n" + table;
    }

    /// <summary>Seconds as hours, to the thousandth (3.6 s).</summary>
    public static string Hours(double seconds) => (seconds / 3600).ToString("0.000", CultureInfo.InvariantCulture);

    private static UsageTotal Sum(IReadOnlyList<UsageTotal> totals) => new()
    {
        Key = string.Empty,
        Records = (ulong)totals.Sum(t => (decimal)t.Records),
        CpuSeconds = totals.Sum(t => t.CpuSeconds),
        VcpuSeconds = totals.Sum(t => t.VcpuSeconds),
        MemoryByteSeconds = totals.Sum(t => t.MemoryByteSeconds),
        PoweredOnSeconds = (ulong)totals.Sum(t => (decimal)t.PoweredOnSeconds),
        NetRxBytes = (ulong)totals.Sum(t => (decimal)t.NetRxBytes),
        NetTxBytes = (ulong)totals.Sum(t => (decimal)t.NetTxBytes),
        DiskReadBytes = (ulong)totals.Sum(t => (decimal)t.DiskReadBytes),
        DiskWriteBytes = (ulong)totals.Sum(t => (decimal)t.DiskWriteBytes),
    };

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?$", RegexOptions.IgnoreCase)]
    private static partial Regex DatePattern();
}
