using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Metrics;

namespace NodeAgent.Agent.Metrics;

/// <summary>
/// The host's series at each scrape, without a libvirt call: capacity (what the host offers workspaces, after the
/// reservation and overcommit, as in heartbeats), used (CPU busy since the previous scrape, in CPUs, and memory not
/// available, from /proc), and whether libvirt is reachable. What workspaces are given (allocated) and how many run
/// come from the bulk stats call, in <see cref="WorkspaceStatsCollector"/>.
/// </summary>
public sealed class HostCollector
{
    private readonly HostDescription _host;
    private readonly Func<CapacityPolicy> _policy;
    private readonly IHypervisor _hypervisor;
    private readonly ProcFileSystem _proc;
    private readonly HostProbe _probe;
    private readonly CollectedFamily _capacityVcpus;
    private readonly CollectedFamily _capacityMemory;
    private readonly CollectedFamily _usedCpus;
    private readonly CollectedFamily _usedMemory;
    private readonly CollectedFamily _libvirtUp;

    /// <param name="policy">The capacity policy in force, asked at each scrape (a reload may change it).</param>
    public HostCollector(MetricsRegistry registry, HostDescription host, Func<CapacityPolicy> policy, IHypervisor hypervisor, ProcFileSystem proc)
    {
        ArgumentNullException.ThrowIfNull(registry);
        (_host, _policy, _hypervisor, _proc) = (host, policy, hypervisor, proc);

        // Its own probe: CPU use is measured between scrapes, without disturbing the heartbeats' measurement.
        _probe = new HostProbe(proc);
        CollectedFamily Gauge(string name, string help) => registry.CreateCollected(MetricType.Gauge, name, help);
        _capacityVcpus = Gauge("nodeagent_host_capacity_vcpus", "vCPUs the host offers workspaces: (host CPUs - reserved) x CPU overcommit.");
        _capacityMemory = Gauge("nodeagent_host_capacity_memory_bytes", "Memory the host offers workspaces: (host memory - reserved) x memory overcommit.");
        _usedCpus = Gauge("nodeagent_host_used_cpus", "Host CPUs busy (of all processes, not only guests) on average since the previous scrape; 0 at the first.");
        _usedMemory = Gauge("nodeagent_host_used_memory_bytes", "Host memory in use: MemTotal - MemAvailable.");
        _libvirtUp = Gauge("nodeagent_libvirt_up", "1 while the agent's libvirt connection works, 0 while it reconnects.");
        registry.AddCollector("host", Collect);
    }

    public void Collect(Scrape scrape)
    {
        ArgumentNullException.ThrowIfNull(scrape);
        var offer = _policy().Offer(new HostSize(_host.Vcpus, _host.MemoryBytes));
        scrape.Add(_capacityVcpus, offer.Vcpus);
        scrape.Add(_capacityMemory, offer.MemoryBytes);
        var (cpu, available, _) = _probe.SampleLoad();
        scrape.Add(_usedCpus, cpu * _host.Vcpus);
        scrape.Add(_usedMemory, _proc.MemInfoBytes("MemTotal") - available);
        scrape.Add(_libvirtUp, _hypervisor.Unavailable is null ? 1 : 0);
    }
}
