using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Address management through the real scheduler (gRPC, SQLite): addresses and MACs assigned at placement,
/// never twice, held in quarantine after the workspace is gone. Hosts are <see cref="FakeAgent"/>s over the
/// real agent protocol, because the real agent needs libvirt and bridges.
/// </summary>
public sealed class IpamApiTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private RunningScheduler? _scheduler;
    private RpcChannel? _channel;

    private LeaseServiceClient Leases => new(_channel!);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_scheduler is not null)
        {
            await _scheduler.DisposeAsync();
        }
    }

    private async Task StartAsync(params string[] networks)
    {
        _scheduler = await RunningScheduler.StartAsync(
            o => o with { Networks = networks.Select(NetworkDefinition.Parse).ToList(), AddressQuarantine = TimeSpan.FromMinutes(10) }, _clock);
        _channel = _scheduler.CreateChannel();
    }

    private async Task<FakeAgent> HostAsync(string id, uint vcpus = 4, params string[] networks)
    {
        var agent = new FakeAgent(_channel!, id);
        await agent.RegisterAsync(vcpus, networks);
        return agent;
    }

    private static CreateLeaseRequest Request(string network = "", params string[] keys) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        Network = network,
        SshKeys = { keys },
    };

    private async Task EndAsync(FakeAgent host, Lease lease)
    {
        await Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        await host.ReportAsync(lease.Id, WorkspaceState.Gone);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_Placed_GetsTheLowestFreeAddressAMacAndTheNetworksGatewayAndDns()
    {
        await StartAsync(NetworkDefinition.Example);
        await HostAsync("h1", networks: "default");

        var first = await Leases.CreateLeaseAsync(Request());
        var second = await Leases.CreateLeaseAsync(Request());

        var nic = Assert.Single(first.Networks);
        Assert.Equal("default", nic.Network);
        Assert.Equal("10.77.0.10", nic.Address);
        Assert.Equal(24u, nic.PrefixLength);
        Assert.Equal("10.77.0.1", nic.Gateway);
        Assert.Equal(["10.77.0.1", "9.9.9.9"], nic.DnsServers);
        Assert.Matches("^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", nic.Mac);
        Assert.Equal("10.77.0.11", Assert.Single(second.Networks).Address);
        Assert.NotEqual(nic.Mac, second.Networks[0].Mac);
    }

    [Fact(Timeout = 10_000)]
    public async Task DesiredSet_PlacedLease_CarriesItsNicSshKeysAndHostname()
    {
        await StartAsync("lab=10.77.0.0/24,gateway=10.77.0.1");
        var host = await HostAsync("h1", networks: "lab");
        var key = SshKeys.Ed25519();

        var lease = await Leases.CreateLeaseAsync(Request("lab", key));
        var spec = Assert.Single((await host.DesiredAsync()).Workspaces);

        Assert.Equal(lease.Networks, spec.Networks);
        Assert.Equal([key], spec.SshKeys);
        Assert.Equal([key], lease.SshKeys);
        Assert.Equal(lease.Id, spec.Hostname);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_NoNetworksConfigured_NoNicAsBefore()
    {
        await StartAsync();
        var host = await HostAsync("h1");

        var lease = await Leases.CreateLeaseAsync(Request());

        Assert.Equal(LeaseState.Starting, lease.State);
        Assert.Empty(lease.Networks);
        Assert.Empty(Assert.Single((await host.DesiredAsync()).Workspaces).Networks);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_UnknownNetwork_InvalidArgumentNamingTheConfiguredOnesAndNothingStored()
    {
        await StartAsync("lab=10.77.0.0/24", "dmz=10.78.0.0/24");
        await HostAsync("h1", networks: "lab");

        var error = await Assert.ThrowsAsync<RpcException>(() => Leases.CreateLeaseAsync(Request("office")));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("network 'office' is not configured", error.Message, StringComparison.Ordinal);
        Assert.Contains("dmz, lab", error.Message, StringComparison.Ordinal);
        Assert.Empty((await Leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_NetworkButSchedulerHasNone_InvalidArgumentSayingSo()
    {
        await StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => Leases.CreateLeaseAsync(Request("lab")));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("this scheduler has no networks", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Lab")]
    [InlineData("lab;nft flush ruleset")]
    [InlineData("<interface/>")]
    [InlineData("lab\n")]
    [InlineData("abcdefghijklmnopq")]
    public async Task CreateLease_HostileNetworkName_InvalidArgumentNamingTheField(string network)
    {
        await StartAsync("lab=10.77.0.0/24");

        var error = await Assert.ThrowsAsync<RpcException>(() => Leases.CreateLeaseAsync(Request(network)));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("CreateLease: network", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_HostsWithoutTheBridge_FilteredOutWithTheReason()
    {
        await StartAsync("lab=10.77.0.0/24", "dmz=10.78.0.0/24");
        await HostAsync("plain");
        await HostAsync("dmz-only", networks: "dmz");

        var refused = await Leases.CreateLeaseAsync(Request("lab"));
        await HostAsync("bridged", networks: ["dmz", "lab"]);
        var placed = await Leases.CreateLeaseAsync(Request("lab"));

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("no host can take it: 2 hosts: no bridge for network lab", refused.StateReason);
        Assert.Empty(refused.Networks);
        Assert.Equal("bridged", placed.HostId);
        Assert.Equal("10.77.0.1", placed.Networks[0].Address);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_PoolExhausted_FailsSayingSoAndNothingIsReserved()
    {
        await StartAsync("default=10.77.0.0/29,gateway=10.77.0.1,reserve=10.77.0.5-10.77.0.6");
        await HostAsync("h1", networks: "default");
        var placed = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Leases.CreateLeaseAsync(Request())));

        var refused = await Leases.CreateLeaseAsync(Request());

        Assert.Equal(["10.77.0.2", "10.77.0.3", "10.77.0.4"], placed.Select(l => l.Networks[0].Address).Order());
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal(
            "network default (10.77.0.0/29): all 3 addresses are assigned or in quarantine; release a lease or wait for the quarantine (10m) to pass",
            refused.StateReason);
        Assert.Empty(refused.Networks);
    }

    [Fact(Timeout = 10_000)]
    public async Task Release_WorkspaceGone_AddressQuarantinedThenHandedOutAgainAfterTheQuarantine()
    {
        await StartAsync("lab=10.77.0.0/24,gateway=10.77.0.1");
        var host = await HostAsync("h1", vcpus: 16, networks: "lab");
        var first = await Leases.CreateLeaseAsync(Request());
        await Leases.CreateLeaseAsync(Request());

        await Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = first.Id });
        var whileStopping = await Leases.CreateLeaseAsync(Request());
        await host.ReportAsync(first.Id, WorkspaceState.Gone);
        var rightAfter = await Leases.CreateLeaseAsync(Request());
        _clock.Advance(TimeSpan.FromMinutes(9));
        await host.HeartbeatAsync();
        var beforeQuarantineEnds = await Leases.CreateLeaseAsync(Request());
        _clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await host.HeartbeatAsync();
        var afterQuarantine = await Leases.CreateLeaseAsync(Request());

        Assert.Equal("10.77.0.2", first.Networks[0].Address);
        Assert.Equal("10.77.0.4", whileStopping.Networks[0].Address);
        Assert.Equal("10.77.0.5", rightAfter.Networks[0].Address);
        Assert.Equal("10.77.0.6", beforeQuarantineEnds.Networks[0].Address);
        Assert.Equal("10.77.0.2", afterQuarantine.Networks[0].Address);
        Assert.NotEqual(first.Networks[0].Mac, afterQuarantine.Networks[0].Mac);
        var ended = await Leases.GetLeaseAsync(new GetLeaseRequest { Id = first.Id });
        Assert.Equal(LeaseState.Ended, ended.State);
        Assert.Equal(first.Networks, ended.Networks);
    }

    [Fact(Timeout = 10_000)]
    public async Task AgentReportsFailure_AddressQuarantinedAndTheExhaustionMessageSaysWhenOneIsFree()
    {
        await StartAsync("lab=10.77.0.0/30");
        var host = await HostAsync("h1", networks: "lab");
        var a = await Leases.CreateLeaseAsync(Request());
        await Leases.CreateLeaseAsync(Request());

        await host.ReportAsync(a.Id, WorkspaceState.Failed, message: "disk image missing");
        var refused = await Leases.CreateLeaseAsync(Request());
        _clock.Advance(TimeSpan.FromMinutes(10));
        await host.HeartbeatAsync();
        var reused = await Leases.CreateLeaseAsync(Request());

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.StartsWith("network lab (10.77.0.0/30): all 2 addresses are assigned or in quarantine;", refused.StateReason, StringComparison.Ordinal);
        Assert.Contains("(the next one is free at ", refused.StateReason, StringComparison.Ordinal);
        Assert.Equal(a.Networks[0].Address, reused.Networks[0].Address);
    }

    [Fact(Timeout = 60_000)]
    public async Task CreateLease_200Concurrent_NoAddressOrMacTwiceAndTheRestRefused()
    {
        // 125 addresses (.2–.126), room on the hosts for 256 workspaces: the pool is what runs out.
        await StartAsync("lab=10.77.0.0/25,gateway=10.77.0.1");
        await HostAsync("h1", vcpus: 128, networks: "lab");
        await HostAsync("h2", vcpus: 128, networks: "lab");

        var leases = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => Leases.CreateLeaseAsync(Request()))));

        var placed = leases.Where(l => l.State == LeaseState.Starting).ToList();
        var addresses = placed.Select(l => Assert.Single(l.Networks).Address).ToList();
        var macs = placed.Select(l => l.Networks[0].Mac).ToList();
        Assert.Equal(125, placed.Count);
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        Assert.Equal(macs.Count, macs.Distinct().Count());
        Assert.Equal(Enumerable.Range(2, 125).Select(i => $"10.77.0.{i}").Order(), addresses.Order());
        Assert.All(leases.Where(l => l.State != LeaseState.Starting), l => Assert.Contains("all 125 addresses are assigned", l.StateReason, StringComparison.Ordinal));
        var stored = (await Leases.ListLeasesAsync(new ListLeasesRequest())).Leases.SelectMany(l => l.Networks).Select(n => n.Address).ToList();
        Assert.Equal(stored.Count, stored.Distinct().Count());
    }
}
