using System.Globalization;
using System.Net;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Images;

/// <summary>The image repository's settings, checked together: every problem at once, each naming the option and the fix.</summary>
public static class ImageRepositoryChecks
{
    /// <summary>Units of <c>--image-max-size</c>: powers of 1024.</summary>
    public const string SizeSyntax = "bytes, or a number with K, M, G or T (powers of 1024), e.g. 500G";

    public static IReadOnlyList<string> Problems(SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.ImageListen is not { } listen)
        {
            if (options.ImageUrl is not null)
            {
                problems.Add("image-url: has no effect with --image-listen none; drop it, or give the repository a listener");
            }

            return problems;
        }

        if (listen.Tls)
        {
            problems.Add($"image-listen: {listen} is https, but the repository speaks plain HTTP (images are checked by digest, not by transport); " +
                "use http://, and if the network needs encryption put a TLS proxy in front and give its address with --image-url https://...");
        }

        foreach (var rpc in options.Listen.Where(rpc => listen.Port != 0 && rpc.Port == listen.Port && Overlap(rpc.Address, listen.Address)))
        {
            problems.Add($"image-listen: {listen} takes the port of --listen {rpc}; give the repository a port of its own, e.g. {SchedulerOptions.DefaultImageListen}");
        }

        if (options.ImageUrl is null && (listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any)))
        {
            problems.Add($"image-url: needed when --image-listen is a wildcard address ({listen}): agents and ws need an address they can reach, " +
                $"e.g. --image-url http://scheduler.example.org:{listen.Port}");
        }

        if (options.ImageUrl is { } url &&
            (!ImageSyntax.TryParseSource(url.OriginalString, out _, out var problem) || url.IsFile ||
             !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment)))
        {
            problem = string.IsNullOrEmpty(problem) ? $"'{IdSyntax.Printable(url.OriginalString)}' is not an http:// or https:// URL without query or fragment" : problem;
            problems.Add($"image-url: {problem}; give the address agents and ws reach the repository at, e.g. http://scheduler.example.org:7701");
        }

        if (string.IsNullOrWhiteSpace(options.ImageRepositoryPath))
        {
            problems.Add("image-repository: a directory path is needed");
        }

        if (options.ImageMaxSizeBytes <= 0 || (ulong)options.ImageMaxSizeBytes > ImageSyntax.MaxSizeBytes)
        {
            problems.Add($"image-max-size: {options.ImageMaxSizeBytes} bytes is outside 1 to {ImageSyntax.MaxSizeBytes} (16T)");
        }

        return problems;
    }

    /// <summary>Reads a size given as <see cref="SizeSyntax"/>; throws <see cref="FormatException"/> naming the option otherwise.</summary>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var digits = trimmed.TrimEnd("KMGTkmgtiBb".ToCharArray());
        var unit = trimmed[digits.Length..].ToUpperInvariant();
        var shift = unit switch
        {
            "" or "B" => 0,
            "K" or "KIB" => 10,
            "M" or "MIB" => 20,
            "G" or "GIB" => 30,
            "T" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > (long.MaxValue >> shift))
        {
            throw new FormatException($"image-max-size '{IdSyntax.Printable(text)}' is not a size: give {SizeSyntax}");
        }

        return value << shift;
    }

    private static bool Overlap(IPAddress a, IPAddress b) =>
        a.Equals(b) || a.Equals(IPAddress.Any) || b.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) || b.Equals(IPAddress.IPv6Any);
}
