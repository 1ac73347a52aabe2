using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>
/// The bounded random sample: on a big cluster only enough hosts are examined to find a sample of feasible ones;
/// a seed makes the choice repeatable; with fewer hosts than the sample size nothing changes.
/// </summary>
public sealed class PlacementSamplingTests
{
    private static readonly PlacementRequest Request = SyntheticCluster.Request;

    private static PlacementPipeline Sampled(int sampleSize, int seed) =>
        PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = sampleSize, Seed = seed });

    [Fact]
    public void Decide_TenThousandHosts_ExaminesOnlyUntilTheSampleIsFull()
    {
        var cluster = SyntheticCluster.Generate(10_000, seed: 21);
        var examined = new CountingFilter();
        var ranked = new CountingRanker();
        var defaults = PlacementPipeline.FromOptions(PlacementOptions.Default);
        var pipeline = new PlacementPipeline([examined, .. PlacementPipeline.DefaultFilters()], [.. defaults.Rankers, (ranked, 0.0)], sampleSize: 64, seed: 7);

        var decision = pipeline.Decide(cluster.Hosts, Request);

        Assert.Equal(decision.Considered, examined.Calls);
        Assert.Equal(64, ranked.Calls);
        Assert.Equal(64, decision.Feasible);
        Assert.Equal(decision.Considered, decision.Feasible + decision.Rejections.Values.Sum());
        Assert.InRange(decision.Considered, 64, 640);
        Assert.Equal(10_000, decision.Candidates);
        Assert.Contains(decision.Host!.Value, cluster.FeasibleHosts.Select(h => h.Host.Id));
        Assert.Contains($"examined {decision.Considered} of 10000 hosts (sample seed {decision.SampleSeed})", decision.Explain(), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_TenThousandHostsFewFeasible_ExaminesAllAndFindsTheBest()
    {
        var hosts = SyntheticCluster.Generate(10_000, seed: 22, feasibleShare: 0).Hosts.ToList();
        hosts[1_234] = SyntheticCluster.Feasible("busy", cpu: 0.9);
        hosts[5_678] = SyntheticCluster.Feasible("idle", cpu: 0.1);
        hosts[9_999] = SyntheticCluster.Feasible("middle", cpu: 0.5);

        var decision = Sampled(64, seed: 5).Decide(hosts, Request);

        Assert.Equal("idle", decision.Host?.Value);
        Assert.Equal(10_000, decision.Considered);
        Assert.Equal(3, decision.Feasible);
        Assert.Equal(["idle", "middle", "busy"], decision.Ranked.Select(r => r.Host.Value));
    }

    [Fact]
    public void Decide_SameSeed_SameDecisionsInTheSameOrder()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 23);
        var first = Sampled(16, seed: 42);
        var second = Sampled(16, seed: 42);

        var firstRun = Enumerable.Range(0, 5).Select(_ => first.Decide(cluster.Hosts, Request)).ToList();
        var secondRun = Enumerable.Range(0, 5).Select(_ => second.Decide(cluster.Hosts, Request)).ToList();

        Assert.Equal(firstRun.Select(Describe), secondRun.Select(Describe));
        Assert.True(firstRun.Select(d => d.SampleSeed).Distinct().Count() > 1, "each decision should draw its own sample");
    }

    [Fact]
    public void Decide_WithARecordedSampleSeed_RepeatsTheDecision()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 24);
        var decision = Sampled(16, seed: 9).Decide(cluster.Hosts, Request);

        var repeated = Sampled(16, seed: 1).Decide(cluster.Hosts, Request, decision.SampleSeed!.Value);

        Assert.Equal(Describe(decision), Describe(repeated));
    }

    [Fact]
    public void Decide_DifferentSeeds_MayDifferButAlwaysPickAFeasibleHost()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 25);
        var feasible = cluster.FeasibleHosts.Select(h => h.Host.Id.Value).ToHashSet(StringComparer.Ordinal);

        var chosen = Enumerable.Range(1, 20).Select(seed => Sampled(16, seed).Decide(cluster.Hosts, Request).Host?.Value).ToList();

        Assert.All(chosen, host => Assert.Contains(host!, feasible));
        Assert.True(chosen.Distinct().Count() > 1, "twenty different samples of 16 hosts all chose " + chosen[0]);
    }

    [Fact]
    public void Decide_FewerHostsThanTheSampleSize_SameAsRankingAllInAnyOrder()
    {
        var cluster = SyntheticCluster.Generate(60, seed: 26);
        var reversed = cluster.Hosts.Reverse().ToList();

        var sampled = Sampled(64, seed: 3).Decide(cluster.Hosts, Request);
        var all = Sampled(int.MaxValue, seed: 4).Decide(reversed, Request);

        Assert.Equal(Describe(all), Describe(sampled));
        Assert.Null(sampled.SampleSeed);
        Assert.Equal(60, sampled.Considered);
    }

    [Fact]
    public void Decide_SampleLargerThanTheFeasibleHosts_SameAsRankingAll()
    {
        var cluster = SyntheticCluster.Generate(500, seed: 27, feasibleShare: 0.05);

        var sampled = Sampled(64, seed: 3).Decide(cluster.Hosts, Request);
        var all = Sampled(int.MaxValue, seed: 4).Decide(cluster.Hosts, Request);

        Assert.True(all.Feasible < 64, $"{all.Feasible} feasible hosts were generated");
        Assert.Equal(Describe(all), Describe(sampled));
        Assert.NotNull(sampled.SampleSeed);
    }

    /// <summary>Everything a decision says except the sample seed: host, counts, reasons, and the scores of the best.</summary>
    private static string Describe(PlacementDecision decision) =>
        $"{decision.Considered}/{decision.Feasible}: " + decision.Explain().Split("; examined ")[0] + "; " +
        string.Join("; ", decision.Rejections.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
}
