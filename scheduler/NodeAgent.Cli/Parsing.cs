using System.Globalization;
using System.Text.RegularExpressions;

namespace NodeAgent.Cli;

/// <summary>Reads sizes ("2G", "512MiB"), durations ("2h", "1h30m", "3d") and moments ("2026-12-01T09:00") as people write them.</summary>
public static partial class Parsing
{
    /// <summary>Binary units: K, M, G, T (with or without "i" and "B"); a bare number is bytes.</summary>
    public static ulong Size(string text, string option)
    {
        var match = SizePattern().Match(text.Trim());
        if (!match.Success)
        {
            throw new UsageException($"{option} '{text}' is not a size; write e.g. 512M, 2G or 1.5T");
        }

        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var shift = char.ToUpperInvariant(match.Groups[2].Value.FirstOrDefault()) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => 0,
        };
        var bytes = value * Math.Pow(2, shift);
        return bytes is < 0 or > 1e18 ? throw new UsageException($"{option} '{text}' is out of range") : (ulong)bytes;
    }

    /// <summary>"NAME" (version 0: the newest active one) or "NAME:VERSION", as image names are written on the command line.</summary>
    public static (string Name, uint Version) ImageName(string text, string option)
    {
        var parts = text.Split(':');
        if (parts.Length > 2 || !NodeAgent.Contract.IdSyntax.IsValid(parts[0], out var problem))
        {
            throw new UsageException($"{option} '{NodeAgent.Contract.IdSyntax.Printable(text)}' is not NAME or NAME:VERSION" +
                (parts.Length <= 2 && !NodeAgent.Contract.IdSyntax.IsValid(parts[0], out var p) ? $": the name {p}" : string.Empty));
        }

        if (parts.Length == 1)
        {
            return (parts[0], 0);
        }

        return uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? (parts[0], version)
            : throw new UsageException($"{option} '{NodeAgent.Contract.IdSyntax.Printable(text)}': the version must be a number from 1, as `ws image list` shows");
    }

    /// <summary>Sums parts such as 1d, 2h, 30m, 45s: "1h30m" is ninety minutes.</summary>
    public static TimeSpan Duration(string text, string option)
    {
        var normalized = text.Trim().ToLowerInvariant();
        var matches = DurationPattern().Matches(normalized);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != normalized)
        {
            throw new UsageException($"{option} '{text}' is not a duration; write e.g. 30m, 2h, 1h30m or 7d");
        }

        var total = TimeSpan.Zero;
        foreach (Match m in matches)
        {
            var amount = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            if (amount > 1e6)
            {
                throw new UsageException($"{option} '{text}' is out of range");
            }

            total += m.Groups[2].Value switch
            {
                "d" => TimeSpan.FromDays(amount),
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                _ => TimeSpan.FromSeconds(amount),
            };
        }

        return total;
    }

    /// <summary>
    /// A moment as people write it: "2026-12-01T09:00" (or with a space for the T, or with seconds, or a bare date for
    /// midnight) in <paramref name="zone"/>, the local time zone unless a test passes another; "Z" or an offset such as
    /// "+01:00" at the end says the zone instead. A local time the clocks skip (daylight saving) is refused; one they
    /// pass twice is read in standard time.
    /// </summary>
    public static DateTimeOffset Moment(string text, string option, TimeZoneInfo? zone = null)
    {
        var match = MomentPattern().Match(text.Trim());
        var example = "write e.g. 2026-12-01T09:00 (local time), 2026-12-01T09:00Z (UTC) or 2026-12-01T09:00+01:00";
        if (!match.Success ||
            !DateTime.TryParseExact(match.Groups[1].Value + (match.Groups[2].Success ? "T" + match.Groups[2].Value : "T00:00"),
                ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            throw new UsageException($"{option} '{text}' is not a date and time; {example}");
        }

        var suffix = match.Groups[3].Value;
        if (suffix.Length > 0)
        {
            var offset = suffix is "Z" or "z" ? TimeSpan.Zero
                : TimeSpan.ParseExact(suffix[1..], @"hh\:mm", CultureInfo.InvariantCulture) * (suffix[0] == '-' ? -1 : 1);
            return offset.Duration() > TimeSpan.FromHours(14)
                ? throw new UsageException($"{option} '{text}': the offset {suffix} is beyond ±14:00; {example}")
                : new DateTimeOffset(local, offset);
        }

        zone ??= TimeZoneInfo.Local;
        if (zone.IsInvalidTime(local))
        {
            throw new UsageException($"{option} '{text}' does not exist in the time zone {zone.Id} (the clocks skip it); give another time, or the offset, e.g. {local:yyyy-MM-dd'T'HH:mm}Z");
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    [GeneratedRegex(@"^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?))?(Z|z|[+-][0-9]{2}:[0-9]{2})?$")]
    private static partial Regex MomentPattern();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)([dhms])")]
    private static partial Regex DurationPattern();
}
