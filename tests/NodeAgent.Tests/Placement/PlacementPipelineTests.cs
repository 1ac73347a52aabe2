using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using static NodeAgent.Tests.Placement.PlacementHosts;

namespace NodeAgent.Tests.Placement;

/// <summary>The whole pipeline on generated clusters: feasibility accounting, the best host winning, pack against spread, anti-affinity, explanations.</summary>
public sealed class PlacementPipelineTests
{
    private static PlacementPipeline Unsampled() => PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = int.MaxValue, Seed = 1 });

    [Fact]
    public void Decide_ThousandMixedHosts_EachRejectedHostCountedUnderItsFirstDefect()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 11);

        var decision = Unsampled().Decide(cluster.Hosts, SyntheticCluster.Request);

        Assert.Equal(cluster.ExpectedRejections(), decision.Rejections);
        Assert.Equal(cluster.FeasibleHosts.Count(), decision.Feasible);
        Assert.Equal(1_000, decision.Considered);
        Assert.Equal(decision.Considered, decision.Feasible + decision.Rejections.Values.Sum());
        Assert.True(decision.Rejections.Count >= 10, "the generated cluster should show every reason");
        Assert.True(decision.Feasible > 300, $"only {decision.Feasible} feasible hosts were generated");
    }

    [Fact]
    public void Decide_ThousandMixedHosts_WinnerScoresAtLeastAsHighAsEveryFeasibleHost()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 12);
        var pipeline = Unsampled();

        var decision = pipeline.Decide(cluster.Hosts, SyntheticCluster.Request);
        var alone = cluster.FeasibleHosts.Select(h => pipeline.Decide([h], SyntheticCluster.Request).Ranked.Single()).ToList();

        var best = alone.OrderByDescending(s => s.Total).ThenBy(s => s.Host.Value, StringComparer.Ordinal).First();
        Assert.Equal(best.Host, decision.Host);
        Assert.Equal(best.Total, decision.Ranked[0].Total);
        Assert.Equal(1 + PlacementPipeline.RunnersUp, decision.Ranked.Count);
        Assert.Equal(alone.Select(s => s.Total).OrderDescending().Take(4), decision.Ranked.Select(s => s.Total));
    }

    [Fact]
    public void Decide_PlantedIdleHostWithTheImage_Wins()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 13);
        var champion = Host(
            "champion",
            capacity: new Resources(64, 256 * GiB, 2_000 * GiB),
            labels: new Dictionary<string, string> { ["rack"] = "r1" },
            features: ["gpu"],
            networks: ["lab"]) with { CachedImages = new HashSet<string> { SyntheticCluster.Digest } };
        var hosts = cluster.Hosts.ToList();
        hosts.Insert(617, champion);

        var decision = Unsampled().Decide(hosts, SyntheticCluster.Request);

        Assert.Equal("champion", decision.Host?.Value);
        Assert.Equal(["measured-load", "image-cached", "spread", "group-spread"], decision.Ranked[0].Parts.Select(p => p.Ranker));
        Assert.Equal([1.0, 1.0, 1.0], decision.Ranked[0].Parts.Where(p => p.Ranker != "spread").Select(p => p.Score));
    }

    [Fact]
    public void Decide_EqualHosts_LowerHostIdWinsWhateverTheOrder()
    {
        var hosts = new[] { Host("hc"), Host("ha"), Host("hb") };

        var forward = PlacementPipeline.Default().Decide(hosts, Request());
        var backward = PlacementPipeline.Default().Decide(hosts.Reverse().ToList(), Request());

        Assert.Equal("ha", forward.Host?.Value);
        Assert.Equal(forward.Explain(), backward.Explain());
    }

    [Theory]
    [InlineData(PlacementStrategy.Pack, "spread=1", "full")]
    [InlineData(PlacementStrategy.Spread, "spread=1", "empty")]
    [InlineData(PlacementStrategy.Pack, PlacementOptions.DefaultWeightsText, "full")]
    [InlineData(PlacementStrategy.Spread, PlacementOptions.DefaultWeightsText, "empty")]
    public void Decide_PackOrSpread_ChoosesTheFullestOrTheEmptiestHostThatFits(PlacementStrategy strategy, string weights, string expected)
    {
        var hosts = new[]
        {
            Host("half", allocated: new Resources(4, 8 * GiB, 0)),
            Host("empty", allocated: new Resources(1, 2 * GiB, 0)),
            Host("full", allocated: new Resources(6, 12 * GiB, 0)),
            Host("over", allocated: new Resources(7, 14 * GiB, 0)),
        };
        var options = new PlacementOptions { Strategy = strategy, Weights = PlacementOptions.ParseWeights(weights), Seed = 1 };

        var decision = PlacementPipeline.FromOptions(options).Decide(hosts, Request());

        Assert.Equal(expected, decision.Host?.Value);
        Assert.Equal(1, decision.Rejections[RejectReasons.Vcpus]);
    }

    [Fact]
    public void Decide_AntiAffinityGroup_NeverPlacedTwiceOnOneHostEvenWhenSampled()
    {
        var hosts = Enumerable.Range(0, 200).Select(i => Host($"h{i:D3}", capacity: new Resources(64, 256 * GiB, 2_000 * GiB))).ToArray();
        var pipeline = PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = 4, Seed = 3 });
        var request = Request() with { AntiAffinityGroup = "db" };
        var used = new HashSet<string>(StringComparer.Ordinal);

        for (var n = 0; n < hosts.Length; n++)
        {
            var chosen = pipeline.Decide(hosts, request).Host?.Value;
            Assert.NotNull(chosen);
            Assert.True(used.Add(chosen), $"placement {n} went to {chosen} a second time");
            var index = Array.FindIndex(hosts, h => h.Host.Id.Value == chosen);
            hosts[index] = hosts[index] with { AntiAffinityGroups = new HashSet<string> { "db" }, Free = hosts[index].Free.Add(new Resources(-2, -4 * GiB, -20 * GiB)) };
        }

        var full = pipeline.Decide(hosts, request);
        Assert.Null(full.Host);
        Assert.Equal("no host can take it: 200 hosts: runs a workspace of anti-affinity group db", full.Explain());
    }

    [Fact]
    public void Explain_Placed_ShowsTheChosenHostsScoresAndTheRunnersUp()
    {
        var hosts = new[]
        {
            Host("h1") with { CpuLoad = 0.2, MemoryPressure = 0, CachedImages = new HashSet<string> { "d" } },
            Host("h2") with { CpuLoad = 0, MemoryPressure = 0 },
            Host("h3") with { CpuLoad = 0.5, MemoryPressure = 0.5, CachedImages = new HashSet<string> { "d" } },
            Host("h4", schedule: HostSchedule.Draining),
        };
        var options = new PlacementOptions { Weights = PlacementOptions.ParseWeights("measured-load=1,image-cached=1"), Seed = 1 };

        var decision = PlacementPipeline.FromOptions(options).Decide(hosts, Request() with { ImageSha256 = "d" });

        Assert.Equal("would go to h1: measured-load 0.86, image-cached 1.00 (score 0.93); "
            + "h3 scored 0.75 (measured-load 0.50, image-cached 1.00); "
            + "h2 scored 0.50 (measured-load 1.00, image-cached 0.00); 1 host: draining", decision.Explain("would go to"));
        Assert.StartsWith("placed on h1: ", decision.Explain(), StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_NoHostFits_CountsEachReason()
    {
        var hosts = new[] { Host("h1", schedule: HostSchedule.Disabled), Host("h2", allocated: Capacity), Host("h3", allocated: Capacity) };

        var decision = PlacementPipeline.Default().Decide(hosts, Request());

        Assert.Null(decision.Host);
        Assert.Empty(decision.Ranked);
        Assert.Equal("no host can take it: 2 hosts: insufficient vCPUs; 1 host: disabled by an admin", decision.Explain());
        Assert.Equal("no host is registered; start nodeagent on at least one host", PlacementPipeline.Default().Decide([], Request()).Explain());
    }

    [Fact]
    public void Decide_NoRankers_AllScoreZeroAndTheLowestIdWins()
    {
        var pipeline = new PlacementPipeline(PlacementPipeline.DefaultFilters(), []);

        var decision = pipeline.Decide([Host("hz", cpu: 0), Host("hm", cpu: 0.9)], Request());

        Assert.Equal("hm", decision.Host?.Value);
        Assert.Equal(0, decision.Ranked[0].Total);
        Assert.Equal("placed on hm; hz scored 0.00", decision.Explain());
    }
}
