using System.Net;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Metrics;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Agent;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metrics;

/// <summary>
/// The real scheduler and the real agent in this process, the agent on libvirt's test driver with its metrics
/// endpoint on a free loopback port, and <see cref="Workspaces"/> leases running on it.
/// </summary>
internal sealed class MetricsCluster : IAsyncDisposable
{
    private readonly TempDirectory _state = new();
    private readonly LibvirtHypervisor _libvirt;
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private IHost _agent = null!;

    private MetricsCluster(LibvirtHypervisor libvirt) => _libvirt = libvirt;

    public string HostId { get; } = "metrics-" + Guid.NewGuid().ToString("N")[..8];

    public IReadOnlyList<Lease> Workspaces { get; private set; } = [];

    /// <summary>The agent's /metrics.</summary>
    public Uri AgentMetrics => new($"http://127.0.0.1:{_agent.Services.GetRequiredService<MetricsEndpoint>().EndPoint!.Port}/metrics");

    /// <summary>The scheduler's /metrics, on its image repository's listener.</summary>
    public Uri SchedulerMetrics => new(_scheduler.Repository.PublicUrl!, "/metrics");

    public RpcChannel Channel => _channel;

    public static async Task<MetricsCluster> StartAsync(int workspaces)
    {
        var cluster = new MetricsCluster(LibvirtHypervisor.Open("test:///default"));
        try
        {
            await cluster.InitializeAsync(workspaces);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync();
            _agent.Dispose();
        }

        TestDriver.RemoveDomainsOf(_libvirt, _state.Path);

        if (_libvirt.FindDomain(TestDriver.PredefinedDomain) is { State: not DomainState.Running })
        {
            _libvirt.Start(TestDriver.PredefinedDomain);
        }

        _libvirt.Dispose();
        _channel?.Dispose();
        if (_scheduler is not null)
        {
            await _scheduler.DisposeAsync();
        }

        _state.Dispose();
    }

    private async Task InitializeAsync(int workspaces)
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        _channel = _scheduler.CreateChannel();

        // The test driver's own domain "test" would take this host's whole capacity (see AgentWithTestDriverTests).
        _libvirt.Destroy(TestDriver.PredefinedDomain);
        await LocalImages.RegisterAsync(_channel, await LocalImages.CreateAsync(Path.Combine(_state.Path, "sources")));
        var options = new AgentOptions
        {
            Scheduler = _scheduler.Address,
            StateDirectory = _state.Path,
            LibvirtUri = "test:///default",
            HostId = HostId,
            ReconcileInterval = TimeSpan.FromHours(1),
            MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
        };
        _agent = AgentApp.Build(options, () => LibvirtHypervisor.Open("test:///default"), logging => logging.ClearProviders());
        await _agent.StartAsync();
        var hosts = new HostServiceClient(_channel);
        // Up, not just registered: a host is down until its first heartbeat, and a lease placed before it would fail.
        for (var i = 0; i < 100 && !(await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.Any(h => h.Info.HostId == HostId && h.Health == HostHealth.Up); i++)
        {
            await Task.Delay(50);
        }

        var leases = new LeaseServiceClient(_channel);
        var running = new List<Lease>();
        for (var i = 0; i < workspaces; i++)
        {
            var lease = await leases.CreateLeaseAsync(new CreateLeaseRequest
            {
                Image = "tiny",
                Resources = new Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
                Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            });
            running.Add(await WaitForRunningAsync(leases, lease.Id));
        }

        Workspaces = running;
    }

    private static async Task<Lease> WaitForRunningAsync(LeaseServiceClient leases, string id)
    {
        await foreach (var lease in leases.WatchLeaseAsync(new GetLeaseRequest { Id = id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(20))))
        {
            if (lease.State == LeaseState.Running)
            {
                return lease;
            }

            if (lease.State is LeaseState.Failed or LeaseState.Ended)
            {
                throw new InvalidOperationException($"lease {id} is {lease.State}: {lease.StateReason}");
            }
        }

        throw new InvalidOperationException($"lease {id} did not reach running");
    }
}
