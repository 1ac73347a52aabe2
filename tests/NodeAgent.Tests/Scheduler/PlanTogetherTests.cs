using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Tests.Support;
using Lease = NodeAgent.Scheduler.Domain.Lease;
using LeaseState = NodeAgent.Scheduler.Domain.LeaseState;
using Resources = NodeAgent.Scheduler.Domain.Resources;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Immediate leases asked for at the same time are planned in one pass (LeaseManager.PlanTogether): those that want the
/// same share one examination of the hosts, each choosing as the ones before it left the hosts; anti-affinity holds
/// among them; a lease unlike the others is planned on its own; and leases no host can take any more are planned on none.
/// </summary>
public sealed class PlanTogetherTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: new ManualClock(Now));
        _channel = _scheduler.CreateChannel();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task AlikeLeases_EachChooseAsTheOnesBeforeLeftTheHosts()
    {
        await RegisterAsync(hosts: 4, vcpus: 4);

        var planned = Plan(Pending(), Pending(), Pending(), Pending());

        Assert.All(planned, p => Assert.NotNull(p.Host));
        Assert.Equal(4, planned.Select(p => p.Host).Distinct().Count());
    }

    [Fact]
    public async Task AntiAffinityHolds_AmongLeasesPlannedTogether_AndALeaseUnlikeTheOthersIsPlannedToo()
    {
        await RegisterAsync(hosts: 3, vcpus: 4);
        var apart = new PlacementConstraints { AntiAffinityGroup = "replicas" };

        var planned = Plan(Pending(placement: apart), Pending(vcpus: 3), Pending(placement: apart), Pending(placement: apart));

        Assert.All(planned, p => Assert.NotNull(p.Host));
        Assert.Equal(3, new[] { planned[0], planned[2], planned[3] }.Select(p => p.Host).Distinct().Count());
    }

    [Fact]
    public async Task LeasesBeyondWhatTheHostsCanTake_ArePlannedOnNone()
    {
        await RegisterAsync(hosts: 2, vcpus: 1);

        var planned = Plan(Pending(), Pending(), Pending());

        Assert.Equal(2, planned.Count(p => p.Host is not null));
        Assert.Equal(2, planned.Where(p => p.Host is not null).Select(p => p.Host).Distinct().Count());
        Assert.Single(planned, p => p.Host is null);
    }

    private PlannedHost[] Plan(params Lease[] pending) => _scheduler.Service<LeaseManager>().PlanTogether(pending);

    private static Lease Pending(int vcpus = 1, PlacementConstraints? placement = null) => new(
        LeaseId.New(Now), "alice", "debian-12", new Resources(vcpus, 256L << 20, 0), LeaseState.Pending, "accepted",
        null, Now, Now.AddHours(1), Now, null)
    {
        RunFor = TimeSpan.FromHours(1),
        Placement = placement,
        Project = "alice",
    };

    private async Task RegisterAsync(int hosts, uint vcpus)
    {
        var agents = new AgentServiceClient(_channel);
        for (var i = 0; i < hosts; i++)
        {
            var info = HostApiTests.Info($"host-{i}", vcpus);
            await agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
            await agents.HeartbeatAsync(new HeartbeatRequest { HostId = info.HostId, Capacity = info.Capacity, Load = new NodeAgent.Contract.V1.HostLoad { MemoryAvailableBytes = 6UL << 30 } });
        }
    }
}
