using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>
/// An agent cut off from the scheduler ends an expired lease's workspace on its own: the real agent on libvirt's test
/// driver, the real scheduler, which is stopped once the workspace runs (the partition). The scheduler's clock is set
/// so the lease ends 20 s after the test begins, with a 5 s grace; the agent's margin is 1 s.
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class AgentLocalExpiryTests : IAsyncLifetime
{
    private static readonly TimeSpan EndsIn = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);
    private readonly TempDirectory _state = new();
    private readonly string _hostId = "agent-" + Guid.NewGuid().ToString("N")[..8];
    private RunningScheduler? _scheduler;
    private RpcChannel _channel = null!;
    private IHost? _agent;
    private LibvirtHypervisor _libvirt = null!;

    public async Task InitializeAsync()
    {
        // The lease is made "an hour ago, for an hour": it ends EndsIn from now in real time, which the agent keeps.
        var clock = new ManualClock(DateTimeOffset.UtcNow - TimeSpan.FromHours(1) + EndsIn);
        _scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), ExpiryGrace = Grace }, clock);
        _channel = _scheduler.CreateChannel();
        _libvirt = LibvirtHypervisor.Open("test:///default");
        _libvirt.Destroy(TestDriver.PredefinedDomain);
        await LocalImages.RegisterAsync(_channel, await LocalImages.CreateAsync(Path.Combine(_state.Path, "sources")));
        var options = new AgentOptions
        {
            Scheduler = _scheduler.Address,
            StateDirectory = _state.Path,
            LibvirtUri = "test:///default",
            HostId = _hostId,
            ReconcileInterval = TimeSpan.FromSeconds(1),
            ExpiryMargin = TimeSpan.FromSeconds(1),
            MetricsListen = null,
        };
        _agent = AgentApp.Build(options, () => LibvirtHypervisor.Open("test:///default"), logging => logging.ClearProviders());
        await _agent.StartAsync();
        var hosts = new HostServiceClient(_channel);
        for (var i = 0; i < 100 && !(await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.Any(h => h.Info.HostId == _hostId && h.Health == HostHealth.Up); i++)
        {
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync();
            _agent.Dispose();
        }

        TestDriver.RemoveDomainsOf(_libvirt, _state.Path);

        _libvirt.Start(TestDriver.PredefinedDomain);
        _libvirt.Dispose();
        _channel.Dispose();
        if (_scheduler is not null)
        {
            await _scheduler.DisposeAsync();
        }

        _state.Dispose();
    }

    [Fact(Timeout = 60_000)]
    public async Task SchedulerGone_ExpiredWorkspaceShutDownAtItsEndThenRemovedAfterTheGrace()
    {
        var lease = await new LeaseServiceClient(_channel).CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "tiny",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        var domain = DomainNames.For(lease.Id);
        await WaitUntilAsync(() => _libvirt.FindDomain(domain) is { State: DomainState.Running }, "the workspace runs");
        var expiresAt = lease.ExpiresAt.ToDateTimeOffset();

        // The partition: the scheduler is gone, so nothing but the agent can end the lease.
        await _scheduler!.DisposeAsync();
        _scheduler = null;

        await WaitUntilAsync(() => _libvirt.FindDomain(domain) is { State: DomainState.Shutoff }, "the guest is shut down");
        var shutOffAt = DateTimeOffset.UtcNow;
        var keptDuringGrace = _libvirt.FindDomain(domain) is not null;
        await WaitUntilAsync(() => _libvirt.FindDomain(domain) is null, "the workspace is removed");
        var removedAt = DateTimeOffset.UtcNow;

        Assert.True(shutOffAt >= expiresAt, $"shut down at {shutOffAt:O}, before the lease's end {expiresAt:O}");
        Assert.True(keptDuringGrace, "the stopped workspace was kept for the grace");
        Assert.True(removedAt >= expiresAt + Grace, $"removed at {removedAt:O}, before the end of the grace {expiresAt + Grace:O}");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 450; i++)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"waited 45 s for this and it did not happen: {what}");
    }
}
