using NodeAgent.Contract;
using System.Security.Cryptography;

namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// Placement as a chain of small stages: filters decide feasibility (the first that rejects a host names the
/// reason), then weighted rankers score the feasible hosts, the scores are normalized (Σ wᵢ·sᵢ / Σ wᵢ) and the best
/// wins. Ties go to the lower host id so a decision can be reproduced.
/// With more candidates than <see cref="SampleSize"/>, hosts are examined in a random order and examination stops
/// once that many feasible hosts are found (as Nomad and Kubernetes do): placement costs the same on 100 hosts as
/// on 10,000, and the best of a random 64 is nearly always near the best of all. The order comes from a seed drawn
/// per decision from a generator seeded with <see cref="Seed"/>; the decision records it, so it can be repeated.
/// </summary>
public sealed class PlacementPipeline
{
    /// <summary>How many hosts after the chosen one a decision keeps the scores of, to explain the choice.</summary>
    public const int RunnersUp = 3;

    private readonly IHostFilter[] _filters;
    private Ranking _ranking;
    private readonly Random _random;
    private readonly Lock _randomGate = new();

    /// <param name="filters">Run in this order; the first that rejects a host names the reason.</param>
    /// <param name="rankers">Each with a weight of at least 0; scores are divided by the sum of the weights.</param>
    /// <param name="sampleSize">At most this many feasible hosts are ranked per decision.</param>
    /// <param name="seed">Seeds the generator the per-decision sample seeds come from.</param>
    public PlacementPipeline(IReadOnlyList<IHostFilter> filters, IReadOnlyList<(IHostRanker Ranker, double Weight)> rankers,
        int sampleSize = int.MaxValue, int seed = 0)
    {
        _filters = [.. filters];
        _ranking = Ranking.Of(rankers, sampleSize);
        Seed = seed;
        _random = new Random(seed);
    }

    /// <summary>At most this many feasible hosts are ranked per decision.</summary>
    public int SampleSize => Volatile.Read(ref _ranking).SampleSize;

    /// <summary>The seed this pipeline's random host order starts from; log it so placements can be replayed.</summary>
    public int Seed { get; }

    public IReadOnlyList<IHostFilter> Filters => _filters;

    public IReadOnlyList<(IHostRanker Ranker, double Weight)> Rankers => Volatile.Read(ref _ranking).Rankers;

    /// <summary>
    /// Ranks by <paramref name="options"/>' strategy, weights and sample size from the next decision on (a reload);
    /// the filters and the seed's generator stay. A decision in progress finishes with the ranking it started with.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid; the message names every problem.</exception>
    public void Reconfigure(PlacementOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfInvalid(options);
        Volatile.Write(ref _ranking, Ranking.Of(RankersFor(options), options.SampleSize));
    }

    /// <summary>
    /// The filters in the order they run. Cheap and lasting reasons come first, because the first reason is the one
    /// reported and the one worth acting on: an admin's disabling or draining explains a host better than its
    /// missing heartbeat during maintenance; health is one comparison and rules out dead hosts before anything is
    /// computed for them; architecture, network, features and labels are what a host is, so they are reported
    /// for a host that is also full; anti-affinity and capacity depend on the leases placed at this moment, and
    /// reservations on what is promised later, so a host full now is reported as full rather than as reserved.
    /// </summary>
    public static IReadOnlyList<IHostFilter> DefaultFilters() =>
    [
        new HostScheduleFilter(), new HostUpFilter(), new RefusedFilter(), new ArchitectureFilter(), new NetworkFilter(), new FeaturesFilter(),
        new LabelsFilter(), new AntiAffinityFilter(), new CapacityFilter(), new ReservationFilter(),
    ];

    /// <summary>The default filters and <see cref="PlacementOptions.Default"/>'s rankers and sample size, with a random seed.</summary>
    public static PlacementPipeline Default() => FromOptions(PlacementOptions.Default);

    /// <summary>
    /// The default filters, and a ranker for each weight above 0 in <paramref name="options"/>. Measured load weighs
    /// most by default, because hosts are placed by what they really do; a cached image outweighs up to about 45
    /// points of measured CPU (starting without a download is worth that much); pack/spread and group spread break
    /// near-ties.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid; the message names every problem.</exception>
    public static PlacementPipeline FromOptions(PlacementOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfInvalid(options);
        var seed = options.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue);
        return new PlacementPipeline(DefaultFilters(), RankersFor(options), options.SampleSize, seed);
    }

    private static void ThrowIfInvalid(PlacementOptions options)
    {
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(options));
        }
    }

    private static List<(IHostRanker Ranker, double Weight)> RankersFor(PlacementOptions options)
    {
        var weighted = new (IHostRanker Ranker, double Weight)[]
        {
            (new MeasuredLoadRanker(), options.Weights.GetValueOrDefault(RankerNames.MeasuredLoad)),
            (new ImageCachedRanker(), options.Weights.GetValueOrDefault(RankerNames.ImageCached)),
            (new AllocationRanker(options.Strategy), options.AllocationWeight),
            (new GroupSpreadRanker(), options.Weights.GetValueOrDefault(RankerNames.GroupSpread)),
        };
        return weighted.Where(r => r.Weight > 0).ToList();
    }

    /// <summary>Chooses a host for <paramref name="request"/> among <paramref name="candidates"/>, sampling them when there are more than <see cref="SampleSize"/>.</summary>
    public PlacementDecision Decide(IReadOnlyList<PlacementCandidate> candidates, PlacementRequest request)
    {
        int? sampleSeed = null;
        if (candidates.Count > Volatile.Read(ref _ranking).SampleSize)
        {
            lock (_randomGate)
            {
                sampleSeed = _random.Next();
            }
        }

        return Decide(candidates, request, sampleSeed);
    }

    /// <summary>Repeats a decision: the same candidates, request and <see cref="PlacementDecision.SampleSeed"/> give the same decision.</summary>
    public PlacementDecision Decide(IReadOnlyList<PlacementCandidate> candidates, PlacementRequest request, int sampleSeed) =>
        Decide(candidates, request, (int?)sampleSeed);

    private PlacementDecision Decide(IReadOnlyList<PlacementCandidate> candidates, PlacementRequest request, int? sampleSeed)
    {
        var ranking = Volatile.Read(ref _ranking);
        var sampling = candidates.Count > ranking.SampleSize;
        var order = new ExaminationOrder(candidates.Count, sampling ? new Random(sampleSeed ?? 0) : null, candidates as ICandidatePrefetch);
        var rejections = new Dictionary<string, int>(StringComparer.Ordinal);
        var best = new List<HostScore>(RunnersUp + 1);
        var scores = new double[ranking.Rankers.Length];
        var examined = 0;
        var feasible = 0;
        while (!(sampling && feasible == ranking.SampleSize) && order.Next() is { } index)
        {
            var candidate = candidates[index];
            examined++;
            if (Reject(candidate, request) is { } reason)
            {
                rejections[reason] = rejections.GetValueOrDefault(reason) + 1;
                continue;
            }

            feasible++;
            var total = ranking.Score(candidate, request, scores);
            var place = Place(best, candidate, total);
            if (place <= RunnersUp)
            {
                var parts = new RankerScore[ranking.Rankers.Length];
                for (var i = 0; i < parts.Length; i++)
                {
                    parts[i] = new RankerScore(ranking.Rankers[i].Ranker.Name, ranking.Rankers[i].Weight, scores[i]);
                }

                best.Insert(place, new HostScore(candidate.Id, total, parts));
                if (best.Count > RunnersUp + 1)
                {
                    best.RemoveAt(best.Count - 1);
                }
            }
        }

        return new PlacementDecision(best.Count > 0 ? best[0].Host : null, examined, rejections)
        {
            Candidates = candidates.Count,
            Feasible = feasible,
            Ranked = best,
            SampleSeed = sampling ? sampleSeed : null,
        };
    }

    /// <summary>
    /// Chooses a host for each of <paramref name="count"/> identical requests, in turn, each seeing what the ones
    /// before it took (<see cref="PlacementCandidate.After"/>): the hosts of a lease group. The candidates are examined
    /// once, not once per request: the feasible ones found are kept with their scores, and after each choice only the
    /// chosen host is filtered and scored again. When sampling, examination goes on whenever fewer than
    /// <see cref="SampleSize"/> feasible hosts are kept (a host filled or ruled out by a choice is dropped), so each
    /// request is chosen for among as many feasible hosts as a single decision would be. Null from the first request
    /// no host can take on.
    /// </summary>
    public HostId?[] DecideEach(IReadOnlyList<PlacementCandidate> candidates, PlacementRequest request, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var ranking = Volatile.Read(ref _ranking);
        var sampling = candidates.Count > ranking.SampleSize;
        int seed;
        lock (_randomGate)
        {
            seed = _random.Next();
        }

        var order = new ExaminationOrder(candidates.Count, sampling ? new Random(seed) : null, candidates as ICandidatePrefetch);
        var scores = new double[ranking.Rankers.Length];
        var kept = new List<(PlacementCandidate Candidate, double Total)>(Math.Min(candidates.Count, ranking.SampleSize));
        var chosen = new HostId?[count];
        for (var i = 0; i < count; i++)
        {
            while ((!sampling || kept.Count < ranking.SampleSize) && order.Next() is { } index)
            {
                var candidate = candidates[index];
                if (Reject(candidate, request) is null)
                {
                    kept.Add((candidate, ranking.Score(candidate, request, scores)));
                }
            }

            if (kept.Count == 0)
            {
                break;
            }

            var best = 0;
            for (var k = 1; k < kept.Count; k++)
            {
                if (kept[k].Total > kept[best].Total ||
                    (kept[k].Total == kept[best].Total && string.CompareOrdinal(kept[k].Candidate.Id.Value, kept[best].Candidate.Id.Value) < 0))
                {
                    best = k;
                }
            }

            chosen[i] = kept[best].Candidate.Id;
            var after = kept[best].Candidate.After(request);
            if (Reject(after, request) is null)
            {
                kept[best] = (after, ranking.Score(after, request, scores));
            }
            else
            {
                kept.RemoveAt(best);
            }
        }

        return chosen;
    }

    /// <summary>Why the filters reject <paramref name="candidate"/> for <paramref name="request"/> (the first that does), or null when it is feasible.</summary>
    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        foreach (var filter in _filters)
        {
            if (filter.Reject(candidate, request) is { } reason)
            {
                return reason;
            }
        }

        return null;
    }


    /// <summary>Where a host with <paramref name="total"/> goes among the best so far: higher score first, then lower host id.</summary>
    private static int Place(List<HostScore> best, PlacementCandidate candidate, double total)
    {
        var place = best.Count;
        while (place > 0 && (total > best[place - 1].Total ||
            (total == best[place - 1].Total && string.CompareOrdinal(candidate.Id.Value, best[place - 1].Host.Value) < 0)))
        {
            place--;
        }

        return place;
    }

    /// <summary>The weighted rankers and the sample size, replaced as one by <see cref="Reconfigure"/>.</summary>
    private sealed record Ranking((IHostRanker Ranker, double Weight)[] Rankers, double TotalWeight, int SampleSize)
    {
        public static Ranking Of(IReadOnlyList<(IHostRanker Ranker, double Weight)> rankers, int sampleSize)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 1);
            foreach (var (ranker, weight) in rankers)
            {
                if (!double.IsFinite(weight) || weight < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(rankers), weight, $"the weight of ranker {ranker.Name} must be a finite number of at least 0");
                }
            }

            return new Ranking([.. rankers], rankers.Sum(r => r.Weight), sampleSize);
        }

        /// <summary>Σ wᵢ·sᵢ / Σ wᵢ, each sᵢ held to 0..1; 0 when no ranker weighs anything (then the host id decides).</summary>
        public double Score(PlacementCandidate candidate, PlacementRequest request, double[] scores)
        {
            var sum = 0.0;
            for (var i = 0; i < Rankers.Length; i++)
            {
                scores[i] = LoadAverage.Clamp01(Rankers[i].Ranker.Score(candidate, request));
                sum += Rankers[i].Weight * scores[i];
            }

            return TotalWeight > 0 ? sum / TotalWeight : 0;
        }
    }
}
