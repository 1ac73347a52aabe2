using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Many leases placed at once through the real API: each is planned outside the write on the hosts as last
/// committed, so plans collide, and the write must notice a host another claim filled and choose again. Ten hosts
/// of 4 vCPUs take exactly 40 one-vCPU leases: all 40 are placed, none beyond, and no host holds more than it has.
/// </summary>
public sealed class ConcurrentPlacementTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: new ManualClock(DateTimeOffset.UtcNow));
        _channel = _scheduler.CreateChannel();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task FortyFiveConcurrentLeases_OnFortyVcpus_PlaceExactlyForty_AndNoHostIsOversubscribed()
    {
        var agents = new AgentServiceClient(_channel);
        for (var i = 0; i < 10; i++)
        {
            var info = HostApiTests.Info($"host-{i}", vcpus: 4);
            await agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
            await agents.HeartbeatAsync(new HeartbeatRequest { HostId = info.HostId, Capacity = info.Capacity, Load = new HostLoad { MemoryAvailableBytes = 6UL << 30 } });
        }

        // On SQLite the one writer is held while all 45 requests plan, so every plan sees the same hosts and most choose the
        // same one; on PostgreSQL a held transaction stops no other, and the 45 race through their claims at once.
        var inside = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var held = Task.Run(() => _scheduler.Service<IStoreDatabase>().WriteAsync((_, _) =>
        {
            inside.Set();
            return release.Wait(TimeSpan.FromSeconds(30));
        }));
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)));

        var leases = new LeaseServiceClient(_channel);
        var creating = Enumerable.Range(0, 45).Select(_ => Task.Run(() => leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 256UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        }))).ToList();
        await Task.Delay(1000);
        release.Set();
        Assert.True(await held);
        var created = await Task.WhenAll(creating);

        Assert.Equal(40, created.Count(l => l.State == LeaseState.Starting));
        Assert.All(created.Where(l => l.State != LeaseState.Starting), l =>
        {
            Assert.Equal(LeaseState.Failed, l.State);
            Assert.Contains("vCPU", l.StateReason, StringComparison.OrdinalIgnoreCase);
        });
        var hosts = (await new HostServiceClient(_channel).ListHostsAsync(new ListHostsRequest())).Hosts;
        Assert.All(hosts, h => Assert.Equal(4u, h.Allocated.Vcpus));
        Assert.All(created.Where(l => l.State == LeaseState.Starting).GroupBy(l => l.HostId), g => Assert.Equal(4, g.Count()));
    }
}
