using System.Globalization;
using System.Text.RegularExpressions;

namespace NodeAgent.Cli;

/// <summary>Reads sizes ("2G", "512MiB") and durations ("2h", "1h30m", "3d") as people write them.</summary>
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

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)([dhms])")]
    private static partial Regex DurationPattern();
}
