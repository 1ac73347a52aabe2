using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>
/// An agent given two scheduler addresses whose first has nothing listening: it registers with the second and keeps
/// its heartbeats there. The agent runs in this process on libvirt's test driver, the scheduler is the real one.
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class SchedulerFailoverTests : IAsyncLifetime
{
    private readonly TempDirectory _state = new();
    private readonly string _hostId = "failover-" + Guid.NewGuid().ToString("N")[..8];
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LibvirtHypervisor _libvirt = null!;
    private IHost? _agent;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        _channel = _scheduler.CreateChannel();
        _libvirt = LibvirtHypervisor.Open("test:///default");
        var options = new AgentOptions
        {
            Schedulers = [DeadAddress.Next(), _scheduler.Address],
            StateDirectory = _state.Path,
            LibvirtUri = "test:///default",
            HostId = _hostId,
            ReconcileInterval = TimeSpan.FromHours(1),
        };
        _agent = AgentApp.Build(options, () => LibvirtHypervisor.Open("test:///default"), logging => logging.ClearProviders());
        await _agent.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync();
            _agent.Dispose();
        }

        TestDriver.RemoveDomainsOf(_libvirt, _state.Path);
        _libvirt.Dispose();
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _state.Dispose();
    }


    [Fact(Timeout = 60_000)]
    public async Task FirstSchedulerAddressDead_AgentRegistersWithTheNext_AndStaysUp()
    {
        var hosts = new HostServiceClient(_channel);
        NodeAgent.Contract.V1.Host? found = null;
        for (var i = 0; i < 400 && found is not { Health: HostHealth.Up }; i++)
        {
            await Task.Delay(50);
            found = (await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.FirstOrDefault(h => h.Info.HostId == _hostId);
        }

        Assert.NotNull(found);
        Assert.Equal(HostHealth.Up, found.Health);
        var firstBeat = found.LastHeartbeatAt.ToDateTimeOffset();

        // Heartbeats keep arriving at the second address (300 ms apart).
        await Task.Delay(1500);
        var later = (await hosts.GetHostAsync(new GetHostRequest { HostId = _hostId })).LastHeartbeatAt.ToDateTimeOffset();
        Assert.True(later > firstBeat, $"no heartbeat after {firstBeat:O}");
    }
}
