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
/// The real scheduler and the real agent in this process; the agent drives libvirt's test driver, whose
/// domains are simulated (no QEMU runs), so the whole lease path is checked in seconds.
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class AgentWithTestDriverTests : IAsyncLifetime
{
    private readonly TempDirectory _state = new();
    private readonly string _hostId = "agent-" + Guid.NewGuid().ToString("N")[..8];
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private IHost? _agent;
    private LibvirtHypervisor _libvirt = null!;
    private LibvirtHypervisor? _agentLibvirt;

    private LeaseServiceClient Leases => new(_channel);

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        _channel = _scheduler.CreateChannel();
        _libvirt = LibvirtHypervisor.Open("test:///default");

        // The test driver's own domain "test" (2 vCPUs, 8 GiB) is foreign to NodeAgent and would take this host's
        // whole capacity; it is stopped for these tests and started again afterwards.
        _libvirt.Destroy(TestDriver.PredefinedDomain);
        await LocalImages.RegisterAsync(_channel, await LocalImages.CreateAsync(Path.Combine(_state.Path, "sources")));
        await StartAgentAsync();
    }

    public async Task DisposeAsync()
    {
        await StopAgentAsync();
        TestDriver.RemoveDomainsOf(_libvirt, _state.Path);

        _libvirt.Start(TestDriver.PredefinedDomain);
        _libvirt.Dispose();
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _state.Dispose();
    }

    private async Task StartAgentAsync()
    {
        var options = new AgentOptions
        {
            Scheduler = _scheduler.Address,
            StateDirectory = _state.Path,
            LibvirtUri = "test:///default",
            HostId = _hostId,

            // Nothing but a desired-set change or a libvirt event makes the agent look, within a test.
            ReconcileInterval = TimeSpan.FromHours(1),
            ImageFetchAttempts = 2,
            UsagePeriod = TimeSpan.FromSeconds(1),
        };
        _agent = AgentApp.Build(options, () => _agentLibvirt = LibvirtHypervisor.Open("test:///default"), logging => logging.ClearProviders());
        await _agent.StartAsync();
        var hosts = new HostServiceClient(_channel);
        for (var i = 0; i < 100 && !(await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.Any(h => h.Info.HostId == _hostId && h.Health == HostHealth.Up); i++)
        {
            await Task.Delay(50);
        }
    }

    private async Task StopAgentAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync();
            _agent.Dispose();
            _agent = null;
        }
    }

    private async Task<Lease> LeaseAsync(string image) => await Leases.CreateLeaseAsync(new CreateLeaseRequest
    {
        Image = image,
        Resources = new Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
    });

    private async Task<Lease> WaitForAsync(string id, LeaseState state)
    {
        Lease? last = null;
        await foreach (var lease in Leases.WatchLeaseAsync(new GetLeaseRequest { Id = id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(20))))
        {
            last = lease;
            if (lease.State == state || lease.State is LeaseState.Failed or LeaseState.Ended)
            {
                break;
            }
        }

        Assert.NotNull(last);
        Assert.True(last.State == state, $"lease {id} is {last.State} ({last.StateReason}), expected {state}");
        return last;
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_ThenRelease_DomainAndDiskAreCreatedThenRemoved()
    {
        var lease = await LeaseAsync("tiny");
        var running = await WaitForAsync(lease.Id, LeaseState.Running);
        var domain = _libvirt.FindDomain("nodeagent-" + lease.Id);
        var overlay = Path.Combine(_state.Path, "workspaces", lease.Id, "root.qcow2");
        var overlayExisted = File.Exists(overlay);
        var metadata = WorkspaceMetadata.FromDomainXml(_libvirt.GetXml("nodeagent-" + lease.Id));

        await Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        var ended = await WaitForAsync(lease.Id, LeaseState.Ended);

        Assert.Equal(_hostId, running.HostId);
        Assert.Equal(DomainState.Running, domain?.State);
        Assert.True(overlayExisted);
        Assert.Equal(lease.Id, metadata?.WorkspaceId);
        Assert.Null(_libvirt.FindDomain("nodeagent-" + lease.Id));
        Assert.False(Directory.Exists(Path.GetDirectoryName(overlay)));
        Assert.Contains("removed from", ended.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_ImageSourceMissing_FailsWithTheReasonAndLeavesNothing()
    {
        var missing = await LocalImages.CreateAsync(Path.Combine(_state.Path, "gone"), "not-here");
        await LocalImages.RegisterAsync(_channel, missing);
        File.Delete(missing.Disk.Url.LocalPath);
        var lease = await LeaseAsync("not-here");

        var failed = await WaitForAsync(lease.Id, LeaseState.Failed);

        Assert.Contains("image not-here:", failed.StateReason, StringComparison.Ordinal);
        Assert.Contains(missing.Disk.Url.LocalPath, failed.StateReason, StringComparison.Ordinal);
        Assert.Null(_libvirt.FindDomain("nodeagent-" + lease.Id));
        Assert.False(Directory.Exists(Path.Combine(_state.Path, "workspaces", lease.Id)));
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_RepositoryUnreachable_FailsAfterTheConfiguredAttemptsWithTheReason()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}/v1/images/sha256/{new string('c', 64)}";
        listener.Stop();
        await new ImageServiceClient(_channel).AddImageAsync(new AddImageRequest { Name = "far-away", Url = url, Sha256 = new string('c', 64) });

        var failed = await WaitForAsync((await LeaseAsync("far-away")).Id, LeaseState.Failed);

        Assert.Contains(url, failed.StateReason, StringComparison.Ordinal);
        Assert.Contains("in 2 attempts", failed.StateReason, StringComparison.Ordinal);
        Assert.Contains("Connection refused", failed.StateReason, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_state.Path, "workspaces", failed.Id)));
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_ImageWithAnotherDigest_RefusedNamingBothDigestsAndNothingIsCached()
    {
        var real = await LocalImages.CreateAsync(Path.Combine(_state.Path, "other"), "tampered");
        var claimed = new string('d', 64);
        await new ImageServiceClient(_channel).AddImageAsync(new AddImageRequest { Name = "tampered", Url = real.Disk.Url.AbsoluteUri, Sha256 = claimed });

        var failed = await WaitForAsync((await LeaseAsync("tampered")).Id, LeaseState.Failed);

        Assert.Contains(claimed, failed.StateReason, StringComparison.Ordinal);
        Assert.Contains(real.Disk.Sha256, failed.StateReason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state.Path, "images", "sha256", claimed)));
        Assert.False(File.Exists(Path.Combine(_state.Path, "images", "sha256", real.Disk.Sha256)));
        Assert.Empty(Directory.GetFiles(Path.Combine(_state.Path, "images", "sha256"), "*.partial"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_ImageFetched_CachedByDigestAndRecordedAsTheWorkspaces()
    {
        var lease = await LeaseAsync("tiny");
        await WaitForAsync(lease.Id, LeaseState.Running);
        var digest = lease.ImageRef.Sha256;

        Assert.True(File.Exists(Path.Combine(_state.Path, "images", "sha256", digest)));
        Assert.Equal([digest], File.ReadAllLines(Path.Combine(_state.Path, "workspaces", lease.Id, "images")));
        var overlay = await new NodeAgent.Agent.Processes.CommandRunner(Microsoft.Extensions.Logging.Abstractions.NullLogger<NodeAgent.Agent.Processes.CommandRunner>.Instance)
            .RunCheckedAsync("qemu-img", ["info", "--output=json", "-U", Path.Combine(_state.Path, "workspaces", lease.Id, "root.qcow2")], TimeSpan.FromSeconds(30), default);
        Assert.Contains(Path.Combine(_state.Path, "images", "sha256", digest), overlay, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Usage_RunningWorkspace_MeteredJournaledShippedAndStoredByTheScheduler()
    {
        var lease = await LeaseAsync("tiny");
        await WaitForAsync(lease.Id, LeaseState.Running);
        var usage = new UsageServiceClient(_channel);
        GetUsageResponse stored;
        do
        {
            await Task.Delay(500);
            stored = await usage.GetUsageAsync(new GetUsageRequest { Owner = "anonymous" });
        }
        while (stored.Records.Count(r => r.LeaseId == lease.Id && r.PoweredOnSeconds > 0) < 2);

        var records = stored.Records.Where(r => r.LeaseId == lease.Id).ToList();
        Assert.All(records, r => Assert.Equal(_hostId, r.HostId));
        Assert.All(records, r => Assert.Equal(64UL << 20, r.MemoryBytes));
        Assert.Equal(records.Count, records.Select(r => r.Sequence).Distinct().Count());
        Assert.True(Directory.Exists(Path.Combine(_state.Path, "usage")), "the agent journals usage under STATE/usage");
    }

    [Fact(Timeout = 60_000)]
    public async Task AgentRestart_RunningWorkspaceIsKeptNotRecreated()
    {
        var lease = await LeaseAsync("tiny");
        await WaitForAsync(lease.Id, LeaseState.Running);
        var before = _libvirt.FindDomain("nodeagent-" + lease.Id);

        await StopAgentAsync();
        await StartAgentAsync();
        await Task.Delay(1000);

        var after = _libvirt.FindDomain("nodeagent-" + lease.Id);
        Assert.Equal(before?.Uuid, after?.Uuid);
        Assert.Equal(DomainState.Running, after?.State);
        Assert.Equal(LeaseState.Running, (await Leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id })).State);
    }

    [Fact(Timeout = 60_000)]
    public async Task GuestStopsOutsideNodeAgent_EventReportsItAndTheLeaseEnds()
    {
        var lease = await LeaseAsync("tiny");
        await WaitForAsync(lease.Id, LeaseState.Running);

        // On the agent's own connection, so libvirt delivers the lifecycle event to it, as for a guest powering off.
        _agentLibvirt!.Destroy("nodeagent-" + lease.Id);
        var failed = await WaitForAsync(lease.Id, LeaseState.Failed);

        Assert.Contains("destroyed outside NodeAgent", failed.StateReason, StringComparison.Ordinal);
        for (var i = 0; i < 100 && _libvirt.FindDomain("nodeagent-" + lease.Id) is not null; i++)
        {
            await Task.Delay(50);
        }

        Assert.Null(_libvirt.FindDomain("nodeagent-" + lease.Id));
    }

    [Fact(Timeout = 60_000)]
    public async Task ForeignDomain_IsNeverTouched()
    {
        var foreign = "someone-elses-" + Guid.NewGuid().ToString("N")[..6];
        _libvirt.Define($"<domain type='test'><name>{foreign}</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>");
        _libvirt.Start(foreign);
        try
        {
            var lease = await LeaseAsync("tiny");
            await WaitForAsync(lease.Id, LeaseState.Running);
            await Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
            await WaitForAsync(lease.Id, LeaseState.Ended);

            Assert.Equal(DomainState.Running, _libvirt.FindDomain(foreign)?.State);
            Assert.Equal((1, 64L << 20), (_libvirt.FindDomain(foreign)!.Vcpus, _libvirt.FindDomain(foreign)!.MemoryBytes));

            // Reported as capacity in use.
            var hosts = new HostServiceClient(_channel);
            NodeAgent.Contract.V1.Host host;
            var tries = 0;
            do
            {
                await Task.Delay(100);
                host = await hosts.GetHostAsync(new GetHostRequest { HostId = _hostId });
            }
            while (host.Load.Foreign.Vcpus < 1 && ++tries < 50);

            Assert.True(host.Load.Foreign.Vcpus >= 1, $"foreign vCPUs reported: {host.Load.Foreign.Vcpus}");
            Assert.True(host.Load.Foreign.MemoryBytes >= 64UL << 20);
        }
        finally
        {
            _libvirt.Destroy(foreign);
            _libvirt.Undefine(foreign);
        }
    }
}

/// <summary>Tests that share the process-wide state of libvirt's test:///default run one after another.</summary>
[CollectionDefinition(Collection)]
public sealed class TestDriver
{
    public const string Collection = "libvirt test driver";

    public const string PredefinedDomain = "test";

    /// <summary>
    /// Removes the nodeagent domains an agent with state directory <paramref name="statePath"/> left in the test driver
    /// (their disks live under it; other tests' domains are left alone).
    /// </summary>
    public static void RemoveDomainsOf(NodeAgent.Agent.Hypervisor.LibvirtHypervisor libvirt, string statePath)
    {
        foreach (var domain in libvirt.ListDomains().Where(d => d.Name.StartsWith("nodeagent-", StringComparison.Ordinal)))
        {
            if (libvirt.GetXml(domain.Name).Contains(statePath, StringComparison.Ordinal))
            {
                libvirt.Destroy(domain.Name);
                libvirt.Undefine(domain.Name);
            }
        }
    }
}
