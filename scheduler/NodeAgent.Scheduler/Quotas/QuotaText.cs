using System.Globalization;
using System.Text;

namespace NodeAgent.Scheduler.Quotas;

/// <summary>
/// Amounts as quota messages write them: exact (a refusal at 64 GiB says 64 GiB, not "about 64"), and durations
/// as ws takes them (7d, 1d12h, 90m → 1h30m), so a number in a message can be typed back into a command.
/// </summary>
public static class QuotaText
{
    private static readonly (long Size, string Unit)[] ByteUnits =
        [(1L << 50, "PiB"), (1L << 40, "TiB"), (1L << 30, "GiB"), (1L << 20, "MiB"), (1L << 10, "KiB")];

    /// <summary>The largest binary unit that holds <paramref name="bytes"/> a whole number of times; bytes otherwise.</summary>
    public static string Bytes(long bytes)
    {
        foreach (var (size, unit) in ByteUnits)
        {
            if (bytes != 0 && bytes % size == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{bytes / size} {unit}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");
    }

    /// <summary>Days, hours, minutes and seconds, largest first, zero parts left out ("0s" for nothing); milliseconds are dropped.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            return "-" + Duration(span.Negate());
        }

        var builder = new StringBuilder();
        Append(builder, span.Days, 'd');
        Append(builder, span.Hours, 'h');
        Append(builder, span.Minutes, 'm');
        Append(builder, span.Seconds, 's');
        return builder.Length == 0 ? "0s" : builder.ToString();
    }

    /// <summary>Core-hours to the thousandth (3.6 vCPU-seconds); an amount above 0 that rounds to 0 shows as &lt;0.001.</summary>
    public static string CoreHours(double hours)
    {
        var text = hours.ToString("0.###", CultureInfo.InvariantCulture);
        return text == "0" && hours > 0 ? "<0.001" : text;
    }

    private static void Append(StringBuilder builder, int amount, char unit)
    {
        if (amount > 0)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{amount}{unit}");
        }
    }
}
