using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>
/// Hosts for a group of identical requests (<see cref="PlacementPipeline.DecideEach"/>): the same choices as one
/// decision per request with the hosts updated between them, from one examination of the hosts.
/// </summary>
public sealed class PlacementGroupTests
{
    private static readonly PlacementRequest Plain = PlacementHosts.Request();

    private static PlacementPipeline Sampled(int sampleSize, int seed) =>
        PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = sampleSize, Seed = seed });

    [Fact]
    public void DecideEach_FewerHostsThanTheSample_SameAsOneDecisionPerRequest()
    {
        var hosts = Enumerable.Range(0, 30).Select(i => PlacementHosts.Host($"h{i:D2}", allocated: new Resources(i % 5, (i % 7) * PlacementHosts.GiB, 0), cpu: i % 3 * 0.2)).ToList();
        var request = Plain with { SpreadGroup = "web" };
        var pipeline = Sampled(64, seed: 1);

        var each = pipeline.DecideEach(hosts, request, 40);

        var expected = new List<HostId?>();
        var current = hosts.ToList();
        for (var i = 0; i < 40; i++)
        {
            var decision = pipeline.Decide(current, request);
            expected.Add(decision.Host);
            if (decision.Host is { } host)
            {
                var at = current.FindIndex(c => c.Host.Id == host);
                current[at] = current[at].After(request);
            }
        }

        Assert.Equal(expected, each);
        Assert.True(each.Distinct().Count() > 10, "the spread group should spread the group over the hosts");
    }

    [Fact]
    public void DecideEach_CapacityRunsOut_NullFromTheFirstThatFitsNowhere()
    {
        // Each host holds 4 workspaces of 2 vCPUs: 3 hosts take 12 of 14.
        var hosts = new[] { PlacementHosts.Host("a"), PlacementHosts.Host("b"), PlacementHosts.Host("c") };

        var each = Sampled(64, seed: 2).DecideEach(hosts, Plain, 14);

        Assert.All(each.Take(12), host => Assert.NotNull(host));
        Assert.Equal([null, null], each.Skip(12));
        Assert.All(each.Take(12).GroupBy(h => h), perHost => Assert.Equal(4, perHost.Count()));
    }

    [Fact]
    public void DecideEach_AntiAffinityWhileSampling_EveryMemberOnItsOwnHost()
    {
        var cluster = SyntheticCluster.Generate(1_000, seed: 31);
        var feasible = cluster.FeasibleHosts.Select(h => h.Host.Id).ToHashSet();

        // A sample of 8: the hosts the first members took are replaced by examining further.
        var each = Sampled(8, seed: 3).DecideEach(cluster.Hosts, SyntheticCluster.Request, 100);

        Assert.All(each, host => Assert.Contains(host!.Value, feasible));
        Assert.Equal(100, each.Distinct().Count());
    }

    [Fact]
    public void DecideEach_AntiAffinityMoreMembersThanHosts_NullsForTheRest()
    {
        var hosts = Enumerable.Range(0, 5).Select(i => PlacementHosts.Host($"h{i}")).ToList();

        var each = Sampled(2, seed: 4).DecideEach(hosts, Plain with { AntiAffinityGroup = "db" }, 7);

        Assert.Equal(5, each.Take(5).Distinct().Count());
        Assert.All(each.Take(5), host => Assert.NotNull(host));
        Assert.Equal([null, null], each.Skip(5));
    }

    [Fact]
    public void DecideEach_TenThousandHosts_ExaminesThemOnceForTheWholeGroup()
    {
        var cluster = SyntheticCluster.Generate(10_000, seed: 32);
        var defaults = PlacementPipeline.FromOptions(PlacementOptions.Default);
        var (inSingle, inGroup) = (new CountingFilter(), new CountingFilter());
        new PlacementPipeline([inSingle, .. PlacementPipeline.DefaultFilters()], defaults.Rankers, sampleSize: 64, seed: 5).Decide(cluster.Hosts, SyntheticCluster.Request);
        var singleExamined = inSingle.Calls;

        var each = new PlacementPipeline([inGroup, .. PlacementPipeline.DefaultFilters()], defaults.Rankers, sampleSize: 64, seed: 5)
            .DecideEach(cluster.Hosts, SyntheticCluster.Request, 10);

        // One examination that keeps 64 feasible hosts, plus each chosen host filtered again after its member and
        // the hosts examined to replace the ones the group's anti-affinity rules out: far fewer than 10 decisions.
        Assert.Equal(10, each.Distinct().Count());
        Assert.True(inGroup.Calls < 3 * singleExamined, $"{inGroup.Calls} hosts examined for 10 members; one decision examined {singleExamined}");
    }

    [Fact]
    public void DecideEach_NoMembers_NoHosts() => Assert.Empty(Sampled(64, seed: 6).DecideEach([PlacementHosts.Host("a")], Plain, 0));
}
