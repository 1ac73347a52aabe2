using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using static NodeAgent.Tests.Placement.PlacementHosts;

namespace NodeAgent.Tests.Placement;

/// <summary>Each ranker on its own: its score from 0 to 1, and which of two hosts it prefers.</summary>
public sealed class HostRankerTests
{
    [Theory]
    [InlineData(0.0, 0.0, 1.0)]
    [InlineData(0.5, 0.2, 0.59)]
    [InlineData(1.0, 1.0, 0.0)]
    public void MeasuredLoadRanker_CpuAndMemoryPressure_ScoresOneMinusTheWeightedMix(double cpu, double memory, double score)
    {
        var host = Host("h1") with { CpuLoad = cpu, MemoryPressure = memory };

        Assert.Equal(score, new MeasuredLoadRanker().Score(host, Request()), 9);
    }

    [Fact]
    public void MeasuredLoadRanker_CpuShare_WeighsCpuAgainstMemory()
    {
        var host = Host("h1") with { CpuLoad = 0.8, MemoryPressure = 0.2 };

        Assert.Equal(0.2, new MeasuredLoadRanker(cpuShare: 1).Score(host, Request()), 9);
        Assert.Equal(0.8, new MeasuredLoadRanker(cpuShare: 0).Score(host, Request()), 9);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MeasuredLoadRanker(cpuShare: 1.5));
    }

    [Fact]
    public void PlacementCandidate_NoLoadAverage_TakesTheLastHeartbeat()
    {
        var host = Host("h1", cpu: 0.3, memoryAvailable: 4 * GiB);
        var overloaded = Host("h2", cpu: 1.7);

        Assert.Equal(0.3, host.CpuLoad, 9);
        Assert.Equal(0.75, host.MemoryPressure, 9);
        Assert.Equal(1, overloaded.CpuLoad);
    }

    [Fact]
    public void PlacementCandidate_AvailableMemoryNotReportedYet_CountsAllocatedMemory()
    {
        var registered = Host("h1", allocated: new Resources(1, 4 * GiB, 0), memoryAvailable: 0);

        Assert.Equal(0.25, registered.MemoryPressure, 9);
    }

    [Fact]
    public void MeasuredLoadRanker_BusierHost_ScoresLower()
    {
        var idle = Host("h1", cpu: 0.1, memoryAvailable: 12 * GiB);
        var busy = Host("h2", cpu: 0.6, memoryAvailable: 12 * GiB);
        var ranker = new MeasuredLoadRanker();

        Assert.True(ranker.Score(idle, Request()) > ranker.Score(busy, Request()));
    }

    [Theory]
    [InlineData(PlacementStrategy.Pack, "pack", 0.75)]
    [InlineData(PlacementStrategy.Spread, "spread", 0.25)]
    public void AllocationRanker_HalfAllocatedHost_ScoresItsFractionAfterPlacement(PlacementStrategy strategy, string name, double score)
    {
        // 4 of 8 vCPUs and 8 of 16 GiB allocated; with the request's 2 vCPUs and 4 GiB that is 3/4 of each.
        var host = Host("h1", allocated: new Resources(4, 8 * GiB, 10 * GiB));
        var ranker = new AllocationRanker(strategy);

        Assert.Equal(name, ranker.Name);
        Assert.Equal(score, ranker.Score(host, Request()), 9);
    }

    [Fact]
    public void AllocationRanker_ForeignDomains_CountAsAllocated()
    {
        var registration = Host("h1").Host.Registration;
        var record = new HostRecord(registration, new HostLoad(0, 16 * GiB, 0, 0, new Resources(6, 12 * GiB, 0)), Resources.None, Now, Now, 1);
        var host = new PlacementCandidate(record, HostHealth.Up, record.Free);

        Assert.Equal(1.0, new AllocationRanker(PlacementStrategy.Pack).Score(host, Request()), 9);
    }

    [Fact]
    public void ImageCachedRanker_DigestInCache_ScoresOneElseZero()
    {
        var digest = new string('c', 64);
        var cached = Host("h1") with { CachedImages = new HashSet<string> { digest } };
        var ranker = new ImageCachedRanker();

        Assert.Equal(1, ranker.Score(cached, Request() with { ImageSha256 = digest }));
        Assert.Equal(0, ranker.Score(Host("h2"), Request() with { ImageSha256 = digest }));
        Assert.Equal(0, ranker.Score(cached, Request()));
    }

    [Theory]
    [InlineData(null, 1.0)]
    [InlineData("web", 0.25)]
    [InlineData("api", 1.0)]
    [InlineData("db", 0.5)]
    public void GroupSpreadRanker_LeasesOfTheGroup_FewerScoreHigher(string? group, double score)
    {
        var host = Host("h1") with { SpreadGroupLeases = new Dictionary<string, int> { ["web"] = 3, ["db"] = 1, ["api"] = 0 } };

        Assert.Equal(score, new GroupSpreadRanker().Score(host, Request() with { SpreadGroup = group }), 9);
    }

    [Fact]
    public void GroupSpreadRanker_EveryHostRunsTheGroup_StillPlacesOnTheOneWithFewest()
    {
        var two = Host("h1") with { SpreadGroupLeases = new Dictionary<string, int> { ["web"] = 2 } };
        var one = Host("h2") with { SpreadGroupLeases = new Dictionary<string, int> { ["web"] = 1 } };

        var decision = Only(new GroupSpreadRanker()).Decide([two, one], Request() with { SpreadGroup = "web" });

        Assert.Equal("h2", decision.Host?.Value);
    }
}
