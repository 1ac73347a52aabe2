using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>
/// The capacity an agent offers after its reservation and overcommit, as the real scheduler receives it and places
/// by it. The agent runs in this process on libvirt's test driver; its /proc is a prepared directory, so the host's
/// memory is known to the test (its CPUs are this machine's).
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class CapacityReportingTests : IAsyncLifetime
{
    private const long GiB = 1L << 30;

    private readonly TempDirectory _state = new();
    private readonly TempDirectory _proc = new();
    private readonly string _hostId = "capacity-" + Guid.NewGuid().ToString("N")[..8];
    private readonly int _cpus = Environment.ProcessorCount;
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LibvirtHypervisor _libvirt = null!;
    private IHost? _agent;

    public async Task InitializeAsync()
    {
        File.WriteAllText(Path.Combine(_proc.Path, "stat"), "cpu  100 0 100 800 0 0 0 0 0 0\n");
        File.WriteAllText(Path.Combine(_proc.Path, "meminfo"), $"MemTotal:       {4 * GiB / 1024} kB\nMemAvailable:   {3 * GiB / 1024} kB\n");
        File.WriteAllText(Path.Combine(_proc.Path, "loadavg"), "0.10 0.10 0.10 1/100 4242\n");

        _scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        _channel = _scheduler.CreateChannel();
        await LocalImages.RegisterAsync(_channel, await LocalImages.CreateAsync(Path.Combine(_state.Path, "sources")));
        _libvirt = LibvirtHypervisor.Open("test:///default");

        // The test driver's own domain "test" (2 vCPUs, 8 GiB) would count as foreign load; stopped while this runs.
        _libvirt.Destroy(TestDriver.PredefinedDomain);

        var options = new AgentOptions
        {
            Scheduler = _scheduler.Address,
            StateDirectory = _state.Path,
            LibvirtUri = "test:///default",
            HostId = _hostId,
            ProcRoot = _proc.Path,
            ReconcileInterval = TimeSpan.FromHours(1),
            ReservedMemoryBytes = 1 * GiB,
            CpuOvercommit = 3,
            MemoryOvercommit = 1.5,
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

        _libvirt.Start(TestDriver.PredefinedDomain);
        _libvirt.Dispose();
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _state.Dispose();
        _proc.Dispose();
    }

    private async Task<NodeAgent.Contract.V1.Host> RegisteredHostAsync()
    {
        var hosts = new HostServiceClient(_channel);
        for (var i = 0; ; i++)
        {
            var found = (await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.FirstOrDefault(h => h.Info.HostId == _hostId);
            if (found is { Health: HostHealth.Up } || i == 200)
            {
                return found ?? throw new InvalidOperationException($"host {_hostId} never registered");
            }

            await Task.Delay(50);
        }
    }

    private async Task<Lease> LeaseAsync(uint vcpus, long memoryBytes) =>
        await new LeaseServiceClient(_channel).CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "tiny",
            Resources = new Resources { Vcpus = vcpus, MemoryBytes = (ulong)memoryBytes },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });

    [Fact(Timeout = 60_000)]
    public async Task Register_CapacityIsHostLessReservationTimesOvercommit()
    {
        var host = await RegisteredHostAsync();

        Assert.Equal((uint)(_cpus * 3), host.Info.Capacity.Vcpus);
        Assert.Equal((ulong)(9 * GiB / 2), host.Info.Capacity.MemoryBytes); // (4 GiB − 1 GiB) × 1.5
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_MoreThanTheRawHostButWithinTheOffer_IsPlacedAndRuns()
    {
        await RegisteredHostAsync();

        var lease = await LeaseAsync((uint)(_cpus * 3), 4 * GiB);
        Lease? last = null;
        await foreach (var update in new LeaseServiceClient(_channel).WatchLeaseAsync(new GetLeaseRequest { Id = lease.Id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(20))))
        {
            last = update;
            if (update.State is LeaseState.Running or LeaseState.Failed or LeaseState.Ended)
            {
                break;
            }
        }

        Assert.NotNull(last);
        Assert.True(last.State == LeaseState.Running, $"lease {lease.Id} is {last.State} ({last.StateReason})");
        Assert.Equal(_hostId, last.HostId);
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_BeyondTheOffer_IsRefusedWithTheReason()
    {
        await RegisteredHostAsync();

        var vcpus = await LeaseAsync((uint)(_cpus * 3) + 1, 1 * GiB);
        var memory = await LeaseAsync(1, (9 * GiB / 2) + 1);

        Assert.Equal(LeaseState.Failed, vcpus.State);
        Assert.Equal("no host can take it: 1 host: insufficient vCPUs", vcpus.StateReason);
        Assert.Equal(LeaseState.Failed, memory.State);
        Assert.Equal("no host can take it: 1 host: insufficient memory", memory.StateReason);
    }
}
