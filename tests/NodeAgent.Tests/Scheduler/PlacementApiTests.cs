using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;
using Xunit.Abstractions;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Placement constraints and explanations through the scheduler's real API: architecture, features, labels,
/// anti-affinity and spread groups, dry runs, the smoothed load placement ranks by, and hostile constraint values.
/// </summary>
public sealed class PlacementApiTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private AgentServiceClient _agents = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: _clock);
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _agents = new AgentServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private async Task RegisterAsync(string id, Action<HostInfo>? shape = null, double cpu = 0)
    {
        var info = HostApiTests.Info(id, vcpus: 8);
        shape?.Invoke(info);
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await HeartbeatAsync(id, cpu);
    }

    private Task<HeartbeatResponse> HeartbeatAsync(string id, double cpu) =>
        _agents.HeartbeatAsync(new HeartbeatRequest
        {
            HostId = id,
            Capacity = HostApiTests.Info(id, vcpus: 8).Capacity,
            Load = new HostLoad { CpuUtilization = cpu, MemoryAvailableBytes = 6UL << 30 },
        });

    private static CreateLeaseRequest Request(PlacementConstraints? placement = null, bool dryRun = false) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        Placement = placement,
        DryRun = dryRun,
    };

    [Fact(Timeout = 10_000)]
    public async Task AntiAffinity_ThreeHosts_ThreeLeasesOnThreeHostsAndTheFourthRefusedWithTheReason()
    {
        foreach (var id in new[] { "h1", "h2", "h3" })
        {
            await RegisterAsync(id);
        }

        var placed = new List<Lease>();
        for (var i = 0; i < 3; i++)
        {
            var lease = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { AntiAffinityGroup = "db" }));
            Assert.Equal(LeaseState.Starting, lease.State);
            placed.Add(lease);
        }

        var refused = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { AntiAffinityGroup = "db" }));
        var other = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { AntiAffinityGroup = "web" }));

        Assert.Equal(["h1", "h2", "h3"], placed.Select(l => l.HostId).Order(StringComparer.Ordinal));
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("no host can take it: 3 hosts: runs a workspace of anti-affinity group db", refused.StateReason);
        Assert.Equal(LeaseState.Starting, other.State);
        Assert.Equal("db", (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = placed[0].Id })).Placement.AntiAffinityGroup);
    }

    [Fact(Timeout = 10_000)]
    public async Task ArchitectureFeatureAndLabel_OnlyTheHostWithAllOfThemTakesTheLease()
    {
        await RegisterAsync("arm", info => info.Architecture = "aarch64");
        await RegisterAsync("plain");
        await RegisterAsync("gpu-r1", info => { info.Features.Add("gpu"); info.Labels["rack"] = "r1"; });
        await RegisterAsync("gpu-r2", info => { info.Features.Add("gpu"); info.Labels["rack"] = "r2"; });
        var constraints = new PlacementConstraints { Architecture = "amd64", RequiredFeatures = { "gpu" }, RequiredLabels = { ["rack"] = "r1" } };

        var lease = await _leases.CreateLeaseAsync(Request(constraints));
        var nowhere = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { RequiredFeatures = { "fpga" } }));

        Assert.Equal("gpu-r1", lease.HostId);
        Assert.Equal("x86_64", lease.Placement.Architecture);
        Assert.Equal(LeaseState.Failed, nowhere.State);
        Assert.Equal("no host can take it: 4 hosts: lacks feature fpga", nowhere.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task DryRun_SaysWhereAndWhy_AndStoresNothing()
    {
        await RegisterAsync("busy", cpu: 0.9);
        await RegisterAsync("idle", cpu: 0.1);
        await RegisterAsync("arm", info => info.Architecture = "aarch64");

        var plan = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { Architecture = "x86_64" }, dryRun: true));

        output.WriteLine(plan.StateReason);
        Assert.Empty(plan.Id);
        Assert.Equal(LeaseState.Pending, plan.State);
        Assert.Equal("idle", plan.HostId);
        Assert.StartsWith("would go to idle: ", plan.StateReason, StringComparison.Ordinal);
        Assert.Contains("busy scored", plan.StateReason, StringComparison.Ordinal);
        Assert.Contains("1 host: architecture", plan.StateReason, StringComparison.Ordinal);
        Assert.Empty((await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task SmoothedLoad_OneBusyHeartbeatAfterAnIdleHour_DoesNotMakeTheHostLookBusy()
    {
        await RegisterAsync("steady", cpu: 0.3);
        await RegisterAsync("spiky", cpu: 0.0);
        for (var minute = 1; minute <= 60; minute++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            await HeartbeatAsync("steady", 0.3);
            await HeartbeatAsync("spiky", minute == 60 ? 0.95 : 0.0);
        }

        // The last heartbeat alone says spiky is at 95 %; smoothed over a one-minute half-life it is about half that,
        // still busier than steady's 30 %: the average moves, but not all the way at once.
        var first = await _leases.CreateLeaseAsync(Request(dryRun: true));
        Assert.Equal("steady", first.HostId);
        Assert.Matches(@"spiky scored 0\.[0-9]+", first.StateReason);

        _clock.Advance(TimeSpan.FromSeconds(5));
        await HeartbeatAsync("spiky", 0.0);
        await HeartbeatAsync("steady", 0.3);
        var calm = await _leases.CreateLeaseAsync(Request(dryRun: true));

        // Five seconds of calm later spiky's average has come down only a little: it still loses to steady. An
        // unsmoothed ranker would already pick spiky (0 % now), and move every new lease back and forth with each heartbeat.
        Assert.Equal("steady", calm.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task AdminStates_DisabledAndDrainingHostsGetNothingNew_AndTheRefusalSaysSo()
    {
        await RegisterAsync("off");
        await RegisterAsync("leaving");
        await RegisterAsync("on");
        var hosts = new HostServiceClient(_channel);
        await hosts.SetHostAdminStateAsync(new SetHostAdminStateRequest { HostId = "off", Action = HostAdminAction.Disable, Reason = "disk swap" });
        await hosts.SetHostAdminStateAsync(new SetHostAdminStateRequest
        {
            HostId = "leaving", Action = HostAdminAction.Drain, DrainDeadline = Timestamp.FromDateTimeOffset(_clock.GetUtcNow() + TimeSpan.FromHours(1)),
        });

        var placed = await _leases.CreateLeaseAsync(Request());
        await hosts.SetHostAdminStateAsync(new SetHostAdminStateRequest { HostId = "on", Action = HostAdminAction.Disable });
        var refused = await _leases.CreateLeaseAsync(Request());

        Assert.Equal("on", placed.HostId);
        Assert.Equal("no host can take it: 2 hosts: disabled by an admin; 1 host: draining", refused.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task SpreadGroup_PrefersHostsWithFewerOfTheGroup()
    {
        await RegisterAsync("a");
        await RegisterAsync("b");

        var first = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { SpreadGroup = "web" }));
        var second = await _leases.CreateLeaseAsync(Request(new PlacementConstraints { SpreadGroup = "web" }));

        Assert.NotEqual(first.HostId, second.HostId);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("anti", "../etc")]
    [InlineData("anti", "db;rm -rf /")]
    [InlineData("spread", "web\0")]
    [InlineData("arch", "x86_64<evil/>")]
    [InlineData("feature", "")]
    [InlineData("label", "Rack Key")]
    public async Task HostileConstraint_IsInvalidArgumentNamingTheField(string field, string value)
    {
        var constraints = field switch
        {
            "anti" => new PlacementConstraints { AntiAffinityGroup = value },
            "spread" => new PlacementConstraints { SpreadGroup = value },
            "arch" => new PlacementConstraints { Architecture = value },
            "feature" => new PlacementConstraints { RequiredFeatures = { value } },
            _ => new PlacementConstraints { RequiredLabels = { [value] = "x" } },
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request(constraints)));

        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.Contains("placement.", e.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task TooManyFeatures_IsInvalidArgumentNamingTheLimit()
    {
        var constraints = new PlacementConstraints();
        constraints.RequiredFeatures.Add(Enumerable.Range(0, 17).Select(i => $"f{i}"));

        var e = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request(constraints)));

        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.Contains("placement.required_features", e.Message, StringComparison.Ordinal);
    }
}
