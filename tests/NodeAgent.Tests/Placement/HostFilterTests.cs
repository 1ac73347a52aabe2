using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using static NodeAgent.Tests.Placement.PlacementHosts;

namespace NodeAgent.Tests.Placement;

/// <summary>Each feasibility filter on its own: which hosts it lets through, and the reason it names for the others.</summary>
public sealed class HostFilterTests
{
    [Theory]
    [InlineData(HostSchedule.Enabled, null)]
    [InlineData(HostSchedule.Disabled, "disabled by an admin")]
    [InlineData(HostSchedule.Draining, "draining")]
    public void HostScheduleFilter_AdminState_OnlyEnabledHostsPass(HostSchedule schedule, string? reason)
    {
        var host = Host("h1", schedule: schedule);

        Assert.Equal(reason, new HostScheduleFilter().Reject(host, Request()));
    }

    [Theory]
    [InlineData(HostHealth.Up, null)]
    [InlineData(HostHealth.Down, RejectReasons.Down)]
    [InlineData(HostHealth.Degraded, RejectReasons.Degraded)]
    public void HostUpFilter_Health_OnlyUpHostsPass(HostHealth health, string? reason)
    {
        Assert.Equal(reason, new HostUpFilter().Reject(Host("h1", health: health), Request()));
    }

    [Theory]
    [InlineData("aarch64", null, null)]
    [InlineData("x86_64", "x86_64", null)]
    [InlineData("x86_64", "amd64", null)]
    [InlineData("arm64", "aarch64", null)]
    [InlineData("aarch64", "x86_64", "architecture aarch64, not x86_64")]
    [InlineData("x86_64", "arm64", "architecture x86_64, not aarch64")]
    [InlineData("", "x86_64", "architecture unknown, not x86_64")]
    public void ArchitectureFilter_HostAndWanted_RejectsOtherArchitecturesByTheKernelsName(string host, string? wanted, string? reason)
    {
        var request = Request() with { Architecture = wanted };

        Assert.Equal(reason, new ArchitectureFilter().Reject(Host("h1", architecture: host), request));
    }

    [Theory]
    [InlineData(new string[0], null)]
    [InlineData(new[] { "kvm" }, null)]
    [InlineData(new[] { "kvm", "gpu" }, null)]
    [InlineData(new[] { "gpu", "sev", "kvm" }, "lacks feature sev")]
    [InlineData(new[] { "GPU" }, "lacks feature GPU")]
    public void FeaturesFilter_RequiredFeatures_FirstMissingOneIsNamed(string[] required, string? reason)
    {
        var host = Host("h1", features: ["kvm", "gpu"]);

        Assert.Equal(reason, new FeaturesFilter().Reject(host, Request() with { RequiredFeatures = required }));
    }

    [Theory]
    [InlineData("rack=r1", null)]
    [InlineData("rack=r1,zone=a", null)]
    [InlineData("rack=r2", "label rack≠r2")]
    [InlineData("row=7", "label row≠7")]
    [InlineData("zone=b,rack=r9", "label rack≠r9")]
    public void LabelsFilter_RequiredLabels_FirstMismatchByKeyIsNamed(string required, string? reason)
    {
        var host = Host("h1", labels: new Dictionary<string, string> { ["rack"] = "r1", ["zone"] = "a" });
        var labels = required.Split(',').Select(l => l.Split('=')).ToDictionary(l => l[0], l => l[1]);

        Assert.Equal(reason, new LabelsFilter().Reject(host, Request() with { RequiredLabels = labels }));
    }

    [Fact]
    public void LabelsFilter_HostsWithManyOtherValues_AllCountedUnderOneReason()
    {
        var request = Request() with { RequiredLabels = new Dictionary<string, string> { ["rack"] = "r1" } };
        var hosts = Enumerable.Range(0, 50).Select(i =>
            Host($"h{i}", labels: i % 2 == 0 ? new Dictionary<string, string> { ["rack"] = $"r{i + 2}" } : null));

        var reasons = hosts.Select(h => new LabelsFilter().Reject(h, request)).Distinct().ToList();

        Assert.Equal(["label rack≠r1"], reasons);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("web", null)]
    [InlineData("db", "runs a workspace of anti-affinity group db")]
    public void AntiAffinityFilter_GroupsOnTheHost_RejectsOnlyTheRequestsGroup(string? group, string? reason)
    {
        var host = Host("h1") with { AntiAffinityGroups = new HashSet<string> { "db", "cache" } };

        Assert.Equal(reason, new AntiAffinityFilter().Reject(host, Request() with { AntiAffinityGroup = group }));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("lab", null)]
    [InlineData("dmz", "no bridge for network dmz")]
    public void NetworkFilter_AnnouncedBridges_RejectsHostsWithoutTheNetwork(string? network, string? reason)
    {
        var host = Host("h1", networks: ["default", "lab"]);

        Assert.Equal(reason, new NetworkFilter().Reject(host, Request() with { Network = network }));
    }

    [Theory]
    [InlineData(6, 12, 80, null)]
    [InlineData(6, 13, 80, "insufficient memory")]
    [InlineData(6, 12, 81, "insufficient disk")]
    [InlineData(7, 16, 100, "insufficient vCPUs")]
    public void CapacityFilter_Allocated_RejectsWhatNoLongerFitsNamingTheFirstShortResource(int vcpus, long memoryGiB, long diskGiB, string? reason)
    {
        var host = Host("h1", allocated: new Resources(vcpus, memoryGiB * GiB, diskGiB * GiB));

        Assert.Equal(reason, new CapacityFilter().Reject(host, Request()));
    }

    [Fact]
    public void DefaultFilters_HostWithSeveralProblems_FirstInChainIsReported()
    {
        var pipeline = new PlacementPipeline(PlacementPipeline.DefaultFilters(), []);
        var request = Request() with { Architecture = "x86_64", RequiredFeatures = ["gpu"] };
        var drainingDownArm = Host("h1", architecture: "aarch64", health: HostHealth.Down, schedule: HostSchedule.Draining);
        var downArm = Host("h2", architecture: "aarch64", health: HostHealth.Down);
        var armFull = Host("h3", architecture: "aarch64", allocated: Capacity);
        var noGpuFull = Host("h4", allocated: Capacity);

        var decision = pipeline.Decide([drainingDownArm, downArm, armFull, noGpuFull], request);

        Assert.Equal(new Dictionary<string, int>
        {
            ["draining"] = 1,
            [RejectReasons.Down] = 1,
            ["architecture aarch64, not x86_64"] = 1,
            ["lacks feature gpu"] = 1,
        }, decision.Rejections);
    }
}
