using System.Globalization;
using System.Text;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Placement;

/// <summary>One ranker's part in a host's score: its name, its weight, and the score from 0 to 1 it gave.</summary>
public sealed record RankerScore(string Ranker, double Weight, double Score);

/// <summary>A feasible host's score: Σ weight·score / Σ weight over the rankers, from 0 to 1, with each ranker's part.</summary>
public sealed record HostScore(HostId Host, double Total, IReadOnlyList<RankerScore> Parts);

/// <summary>
/// The outcome of one placement: the chosen host, or why none could be chosen; how many hosts were examined and
/// why each rejected one was; and the scores of the best hosts, so a placement can be explained.
/// </summary>
public sealed record PlacementDecision(HostId? Host, int Considered, IReadOnlyDictionary<string, int> Rejections)
{
    /// <summary>How many hosts were offered; more than <see cref="Considered"/> when a sample sufficed.</summary>
    public int Candidates { get; init; } = Considered;

    /// <summary>How many examined hosts were feasible; with the rejections this adds up to <see cref="Considered"/>.</summary>
    public int Feasible { get; init; }

    /// <summary>The best feasible hosts, best first: the chosen one and up to <see cref="PlacementPipeline.RunnersUp"/> runners-up.</summary>
    public IReadOnlyList<HostScore> Ranked { get; init; } = [];

    /// <summary>The seed of the order hosts were examined in, when they were sampled; pass it to Decide to repeat the decision.</summary>
    public int? SampleSeed { get; init; }

    /// <summary>
    /// E.g. "placed on h3: measured-load 0.91, image-cached 1.00 (score 0.93); h1 scored 0.72 (…); 2 hosts:
    /// insufficient memory", or when no host fits, "no host can take it: 2 hosts: insufficient memory; 1 host:
    /// down (no recent heartbeat)".
    /// </summary>
    public string Explain() => Explain("placed on");

    /// <summary>As <see cref="Explain()"/>, with another verb for a chosen host, e.g. "would go to" for a dry run.</summary>
    public string Explain(string placedVerb)
    {
        if (Host is not { } chosen)
        {
            return Considered == 0
                ? "no host is registered; start nodeagent on at least one host"
                : "no host can take it: " + RejectionSummary();
        }

        var text = new StringBuilder($"{placedVerb} {chosen}");
        if (Ranked.Count > 0 && Ranked[0].Parts.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $": {Parts(Ranked[0])} (score {Number(Ranked[0].Total)})");
        }

        foreach (var runnerUp in Ranked.Skip(1))
        {
            text.Append(CultureInfo.InvariantCulture, $"; {runnerUp.Host} scored {Number(runnerUp.Total)}");
            if (runnerUp.Parts.Count > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $" ({Parts(runnerUp)})");
            }
        }

        if (Considered < Candidates)
        {
            text.Append(CultureInfo.InvariantCulture, $"; examined {Considered} of {Candidates} hosts (sample seed {SampleSeed})");
        }

        if (Rejections.Count > 0)
        {
            text.Append("; ").Append(RejectionSummary());
        }

        return text.ToString();
    }

    private string RejectionSummary() => string.Join("; ", Rejections
        .OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal)
        .Select(r => $"{r.Value} host{(r.Value == 1 ? string.Empty : "s")}: {r.Key}"));

    private static string Parts(HostScore score) => string.Join(", ", score.Parts.Select(p => $"{p.Ranker} {Number(p.Score)}"));

    private static string Number(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);
}
