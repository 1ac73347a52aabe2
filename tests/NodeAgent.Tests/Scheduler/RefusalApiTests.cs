using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// An agent refuses a workspace that does not fit what its host has now, and the scheduler places it on another
/// host, never on one that refused it; with no other host the lease fails naming the refusal. Real scheduler,
/// agents played over the agent protocol.
/// </summary>
public sealed class RefusalApiTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private FakeAgent _h1 = null!;
    private FakeAgent _h2 = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _h1 = new FakeAgent(_channel, "h1");
        _h2 = new FakeAgent(_channel, "h2");
        await _h1.RegisterAsync(vcpus: 8);
        await _h2.RegisterAsync(vcpus: 4);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private const string Why = "host h1 cannot take it: 2 vCPUs asked, 0 of 8 left";

    [Fact(Timeout = 20_000)]
    public async Task Refused_PlacedOnAnotherHost_AndTheRefusingHostDropsIt()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 2, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            Placement = new PlacementConstraints { RequiredLabels = { ["rack"] = "r7" } },
        });
        var first = lease.HostId;
        var (refusing, other) = first == "h1" ? (_h1, _h2) : (_h2, _h1);

        await refusing.ReportAsync(lease.Id, WorkspaceState.Refused, message: Why);
        var moved = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });
        var spec = await other.WaitForSpecAsync(lease.Id, _ => true, TimeSpan.FromSeconds(5));
        var dropped = await refusing.DesiredAsync();

        Assert.Equal(LeaseState.Starting, moved.State);
        Assert.Equal(other.HostId, moved.HostId);
        Assert.Contains($"after {first} refused it ({Why})", moved.StateReason, StringComparison.Ordinal);
        Assert.Equal(lease.Id, spec.Id);
        Assert.DoesNotContain(dropped.Workspaces, w => w.Id == lease.Id);

        // The second host refuses too: there is no third, and neither is asked again.
        await other.ReportAsync(lease.Id, WorkspaceState.Refused, message: "short of memory");
        var failed = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });

        Assert.Equal(LeaseState.Failed, failed.State);
        Assert.Equal($"{other.HostId} refused it (short of memory), and no host can take it: 2 hosts: refused this workspace (it did not fit what the host had)", failed.StateReason);
    }

    [Fact(Timeout = 20_000)]
    public async Task RefusedAfterItRuns_Ignored()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        var host = lease.HostId == "h1" ? _h1 : _h2;
        await host.ReportAsync(lease.Id, WorkspaceState.Running);

        await host.ReportAsync(lease.Id, WorkspaceState.Refused, message: Why);
        var after = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });

        Assert.Equal((LeaseState.Running, lease.HostId), (after.State, after.HostId));
    }
}
