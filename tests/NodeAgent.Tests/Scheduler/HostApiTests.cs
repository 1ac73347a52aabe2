using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The scheduler's host registry through its real gRPC API and SQLite file.</summary>
public sealed class HostApiTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private AgentServiceClient _agents = null!;
    private HostServiceClient _hosts = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _agents = new AgentServiceClient(_channel);
        _hosts = new HostServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    internal static HostInfo Info(string id, uint vcpus = 4) => new()
    {
        HostId = id,
        Hostname = id + ".example",
        AgentVersion = "test",
        Architecture = "x86_64",
        DomainType = "qemu",
        Capacity = new Resources { Vcpus = vcpus, MemoryBytes = 8UL << 30, DiskBytes = 100UL << 30 },
        Labels = { ["rack"] = "r7" },
        Features = { "ssd" },
    };

    [Fact(Timeout = 30_000)]
    public async Task ListHosts_PagesOfThree_EveryHostOnceInIdOrder_AndAForeignTokenRefused()
    {
        var ids = Enumerable.Range(0, 7).Select(i => $"page-{i}").ToList();
        foreach (var id in ids.AsEnumerable().Reverse())
        {
            await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info(id) });
        }

        var listed = new List<string>();
        var token = string.Empty;
        var pages = 0;
        do
        {
            var page = await _hosts.ListHostsAsync(new ListHostsRequest { PageSize = 3, PageToken = token });
            listed.AddRange(page.Hosts.Select(h => h.Info.HostId));
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0);

        Assert.Equal(3, pages);
        Assert.Equal(ids, listed);
        Assert.Equal(7, (await _hosts.ListHostsAsync(new ListHostsRequest())).Hosts.Count);
        var refused = await Assert.ThrowsAsync<RpcException>(() => _hosts.ListHostsAsync(new ListHostsRequest { PageToken = "MTpldmlsIGlk" })); // "1:evil id"
        Assert.Equal(StatusCode.InvalidArgument, refused.Status);
        Assert.Contains("page_token", refused.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task RegisterHost_ThenList_HostIsUpWithItsCapacityAndLabels()
    {
        var response = await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info("host-a") });

        var hosts = await _hosts.ListHostsAsync(new ListHostsRequest());

        Assert.True(response.HeartbeatInterval.ToTimeSpan() > TimeSpan.Zero);
        var host = Assert.Single(hosts.Hosts);
        Assert.Equal("host-a", host.Info.HostId);
        Assert.Equal(HostHealth.Up, host.Health);
        Assert.Equal(4u, host.Info.Capacity.Vcpus);
        Assert.Equal("r7", host.Info.Labels["rack"]);
        Assert.Equal(["ssd"], host.Info.Features);
    }

    [Fact(Timeout = 10_000)]
    public async Task RegisterHost_Twice_UpdatesInPlace()
    {
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info("host-a", vcpus: 4) });
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info("host-a", vcpus: 16) });

        var host = await _hosts.GetHostAsync(new GetHostRequest { HostId = "host-a" });

        Assert.Equal(16u, host.Info.Capacity.Vcpus);
        Assert.Single((await _hosts.ListHostsAsync(new ListHostsRequest())).Hosts);
    }

    [Fact(Timeout = 10_000)]
    public async Task Heartbeat_RecordsMeasuredLoad()
    {
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info("host-a") });

        await _agents.HeartbeatAsync(new HeartbeatRequest
        {
            HostId = "host-a",
            Capacity = Info("host-a").Capacity,
            Load = new HostLoad { CpuUtilization = 0.75, MemoryAvailableBytes = 1UL << 30, LoadAverage1M = 1.5, RunningWorkspaces = 2 },
        });
        var host = await _hosts.GetHostAsync(new GetHostRequest { HostId = "host-a" });

        Assert.Equal(0.75, host.Load.CpuUtilization);
        Assert.Equal(1UL << 30, host.Load.MemoryAvailableBytes);
        Assert.Equal(2u, host.Load.RunningWorkspaces);
    }

    [Fact(Timeout = 10_000)]
    public async Task Heartbeat_UnknownHost_NotFoundSayingToRegister()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _agents.HeartbeatAsync(new HeartbeatRequest { HostId = "ghost", Capacity = Info("ghost").Capacity }));

        Assert.Equal(StatusCode.NotFound, error.Status);
        Assert.Contains("ghost", error.Message, StringComparison.Ordinal);
        Assert.Contains("register", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("../etc/passwd")]
    [InlineData("host<script>")]
    [InlineData("UPPER")]
    [InlineData("nul\0byte")]
    [InlineData("")]
    public async Task RegisterHost_HostileId_InvalidArgumentAndNothingStored(string id)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info(id) }));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("host.host_id", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', error.Message);
        Assert.Empty((await _hosts.ListHostsAsync(new ListHostsRequest())).Hosts);
    }

    [Fact(Timeout = 10_000)]
    public async Task RegisterHost_SeveralBadFields_EveryProblemIsNamedAtOnce()
    {
        var info = Info("host-a");
        info.DomainType = "xen";
        info.Capacity.Vcpus = 0;
        info.Hostname = string.Empty;

        var error = await Assert.ThrowsAsync<RpcException>(() => _agents.RegisterHostAsync(new RegisterHostRequest { Host = info }));

        Assert.Contains("host.domain_type", error.Message, StringComparison.Ordinal);
        Assert.Contains("host.capacity.vcpus", error.Message, StringComparison.Ordinal);
        Assert.Contains("host.hostname", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task WatchDesiredWorkspaces_RegisteredHost_FirstMessageAtOnce()
    {
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = Info("host-a") });

        await foreach (var desired in _agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "host-a" }, CallOptions.WithTimeout(TimeSpan.FromSeconds(5))))
        {
            Assert.Equal("host-a", desired.HostId);
            Assert.Empty(desired.Workspaces);
            break;
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task WatchDesiredWorkspaces_UnknownHost_NotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var unused in _agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "ghost" }))
            {
            }
        });

        Assert.Equal(StatusCode.NotFound, error.Status);
    }
}
