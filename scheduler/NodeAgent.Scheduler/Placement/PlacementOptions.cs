using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Placement;

/// <summary>How a deployment's workspaces share hosts: fill hosts one after another, or spread over all.</summary>
public enum PlacementStrategy
{
    /// <summary>Prefer the host with the least allocated after placement.</summary>
    Spread,

    /// <summary>Prefer the host with the most allocated after placement (bin packing).</summary>
    Pack,
}

/// <summary>
/// The operator's placement settings: pack or spread, the weight of each ranker by name, how many feasible hosts
/// are ranked at most, and the seed of the random order hosts are examined in. Validated as a whole by
/// <see cref="Validate"/>; <see cref="PlacementPipeline.FromOptions"/> builds the pipeline.
/// </summary>
public sealed record PlacementOptions
{
    public const string DefaultWeightsText = "measured-load=0.6,image-cached=0.2,spread=0.1,group-spread=0.1";

    /// <summary>Enough hosts that the best of them is nearly always among the best of the cluster, few enough to rank in microseconds.</summary>
    public const int DefaultSampleSize = 64;

    public static PlacementOptions Default { get; } = new();

    public PlacementStrategy Strategy { get; init; } = PlacementStrategy.Spread;

    /// <summary>
    /// Weight by ranker name (<see cref="RankerNames.All"/>); a ranker not named weighs 0 and does not run.
    /// "pack" and "spread" both name the weight of the one allocation ranker, which packs or spreads as
    /// <see cref="Strategy"/> says, so changing the strategy does not mean rewriting the weights.
    /// </summary>
    public IReadOnlyDictionary<string, double> Weights { get; init; } = ParseWeights(DefaultWeightsText);

    /// <summary>At most this many feasible hosts are ranked per placement; see <see cref="PlacementPipeline"/>.</summary>
    public int SampleSize { get; init; } = DefaultSampleSize;

    /// <summary>The seed of the order hosts are examined in; null: one chosen at random when the pipeline is built (and logged).</summary>
    public int? Seed { get; init; }

    /// <summary>Every problem with these options at once, each naming the setting and what is allowed.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = WeightProblems(Weights.Select(w => (w.Key, w.Key, w.Value))).Select(p => "placement weights: " + p).ToList();
        if (SampleSize < 1)
        {
            problems.Add($"placement sample size {SampleSize.ToString(CultureInfo.InvariantCulture)}: it must be at least 1; {DefaultSampleSize.ToString(CultureInfo.InvariantCulture)} is the default");
        }

        return problems;
    }

    /// <summary>Reads weights written as <c>name=weight,name=weight</c>, e.g. <see cref="DefaultWeightsText"/>.</summary>
    /// <exception cref="FormatException">
    /// An entry is not name=weight, names no ranker, gives a ranker twice, or a weight that is negative or not a
    /// number, or no weight is above 0. The message names every bad entry and lists the known ranker names.
    /// </exception>
    public static IReadOnlyDictionary<string, double> ParseWeights(string text)
    {
        var entries = new List<(string Entry, string Name, double Weight)>();
        var problems = new List<string>();
        foreach (var raw in text.Split(','))
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                problems.Add($"'{IdSyntax.Printable(entry)}' is not name=weight");
                continue;
            }

            var name = entry[..equals].Trim();
            var value = entry[(equals + 1)..].Trim();
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            {
                problems.Add($"'{IdSyntax.Printable(entry)}': '{IdSyntax.Printable(value)}' is not a number");
                weight = 0;
            }

            entries.Add((entry, name, weight));
        }

        if (entries.Count == 0 && problems.Count == 0)
        {
            problems.Add("no weight is given");
        }
        else
        {
            problems.AddRange(WeightProblems(entries.Select(e => (e.Entry, e.Name, e.Weight)), checkTotal: problems.Count == 0));
        }

        if (problems.Count > 0)
        {
            throw new FormatException($"placement weights '{IdSyntax.Printable(text)}': {string.Join("; ", problems)}; " +
                $"write name=weight for rankers among {string.Join(", ", RankerNames.All)}, e.g. {DefaultWeightsText}");
        }

        return entries.ToDictionary(e => e.Name, e => e.Weight, StringComparer.Ordinal);
    }

    /// <summary>Reads "pack" or "spread" (any case).</summary>
    /// <exception cref="FormatException">The text is neither; the message says which are allowed.</exception>
    public static PlacementStrategy ParseStrategy(string text) => text.Trim().ToLowerInvariant() switch
    {
        RankerNames.Pack => PlacementStrategy.Pack,
        RankerNames.Spread => PlacementStrategy.Spread,
        _ => throw new FormatException($"placement strategy '{IdSyntax.Printable(text)}' is neither pack nor spread; " +
            "pack fills hosts one after another, spread keeps them evenly used"),
    };

    /// <summary>The weights as <see cref="ParseWeights"/> reads them, in <see cref="RankerNames.All"/> order, for logs.</summary>
    public static string FormatWeights(IReadOnlyDictionary<string, double> weights) => string.Join(",", weights
        .OrderBy(w => RankerOrder(w.Key)).ThenBy(w => w.Key, StringComparer.Ordinal)
        .Select(w => $"{w.Key}={w.Value.ToString("0.###", CultureInfo.InvariantCulture)}"));

    /// <summary>The weight of the allocation ranker, whether it was given as pack or as spread.</summary>
    internal double AllocationWeight => Weights.GetValueOrDefault(RankerNames.Pack) + Weights.GetValueOrDefault(RankerNames.Spread);

    private static int RankerOrder(string name)
    {
        for (var i = 0; i < RankerNames.All.Count; i++)
        {
            if (RankerNames.All[i] == name)
            {
                return i;
            }
        }

        return int.MaxValue;
    }

    /// <param name="entries">Each weight with the text it came from, shown in problems.</param>
    /// <param name="checkTotal">Whether to report that no weight is above 0; not when some weight could not even be read.</param>
    private static IEnumerable<string> WeightProblems(IEnumerable<(string Entry, string Name, double Weight)> entries, bool checkTotal = true)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var allocation = 0;
        var total = 0.0;
        foreach (var (entry, name, weight) in entries)
        {
            var shown = IdSyntax.Printable(entry);
            if (!RankerNames.All.Contains(name, StringComparer.Ordinal))
            {
                yield return $"'{shown}' names no ranker";
            }
            else if (!seen.Add(name))
            {
                yield return $"'{shown}': {name} is given twice";
            }
            else if (name is RankerNames.Pack or RankerNames.Spread && ++allocation > 1)
            {
                yield return $"'{shown}': pack and spread are two names of one ranker (the strategy chooses which it does); give one weight";
            }

            if (!double.IsFinite(weight))
            {
                yield return $"'{shown}': the weight must be a finite number";
            }
            else if (weight < 0)
            {
                yield return $"'{shown}': the weight must not be negative";
            }
            else
            {
                total += weight;
            }
        }

        if (checkTotal && seen.Count > 0 && total <= 0)
        {
            yield return "every weight is 0; give at least one ranker a weight above 0";
        }
    }
}
