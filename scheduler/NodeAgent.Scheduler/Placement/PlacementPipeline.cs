using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Placement;

/// <summary>The outcome of one placement: the chosen host, or why none could be chosen.</summary>
public sealed record PlacementDecision(HostId? Host, int Considered, IReadOnlyDictionary<string, int> Rejections)
{
    /// <summary>E.g. "no host can take it: 2 hosts: insufficient memory; 1 host: down (no recent heartbeat)".</summary>
    public string Explain()
    {
        if (Host is { } chosen)
        {
            return $"placed on {chosen}";
        }

        if (Considered == 0)
        {
            return "no host is registered; start nodeagent on at least one host";
        }

        return "no host can take it: " + string.Join("; ", Rejections
            .OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => $"{r.Value} host{(r.Value == 1 ? string.Empty : "s")}: {r.Key}"));
    }
}

/// <summary>
/// Placement as a chain of small stages: filters decide feasibility (the first that rejects a host names
/// the reason), then weighted rankers score the feasible hosts and the best score wins. Ties go to the
/// lower host id so a decision can be reproduced.
/// </summary>
public sealed class PlacementPipeline(IReadOnlyList<IHostFilter> filters, IReadOnlyList<(IHostRanker Ranker, double Weight)> rankers)
{
    /// <summary>
    /// The default chain. Filters run cheapest and most often decisive first: health is one comparison and
    /// rules out dead hosts before anything is computed for them; the network comes before capacity, because a
    /// missing bridge is the lasting reason and the one worth reporting for a host that is also full.
    /// Rankers: measured CPU weighs most, because hosts are placed by what they really do; memory headroom
    /// breaks near-ties; a host with the image cached wins over one 25 points of CPU busier that would have
    /// to download it first.
    /// </summary>
    public static PlacementPipeline Default() => new(
        [new HostUpFilter(), new NetworkFilter(), new CapacityFilter()],
        [(new MeasuredCpuRanker(), 0.7), (new MemoryHeadroomRanker(), 0.3), (new ImageCachedRanker(), 0.175)]);

    public PlacementDecision Decide(IReadOnlyList<PlacementCandidate> candidates, PlacementRequest request)
    {
        var rejections = new Dictionary<string, int>(StringComparer.Ordinal);
        PlacementCandidate? best = null;
        var bestScore = double.NegativeInfinity;
        foreach (var candidate in candidates)
        {
            var reason = Reject(candidate, request);
            if (reason is not null)
            {
                rejections[reason] = rejections.GetValueOrDefault(reason) + 1;
                continue;
            }

            var score = 0.0;
            foreach (var (ranker, weight) in rankers)
            {
                score += weight * ranker.Score(candidate, request);
            }

            if (score > bestScore || (score == bestScore && best is not null &&
                string.CompareOrdinal(candidate.Host.Id.Value, best.Host.Id.Value) < 0))
            {
                best = candidate;
                bestScore = score;
            }
        }

        return new PlacementDecision(best?.Host.Id, candidates.Count, rejections);
    }

    private string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        foreach (var filter in filters)
        {
            if (filter.Reject(candidate, request) is { } reason)
            {
                return reason;
            }
        }

        return null;
    }
}
