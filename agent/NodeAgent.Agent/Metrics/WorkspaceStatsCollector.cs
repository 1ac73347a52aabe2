using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Metrics;

namespace NodeAgent.Agent.Metrics;

/// <summary>
/// Per-workspace series at each scrape, from one libvirt bulk stats call for all of NodeAgent's domains, named after
/// the libvirt exporter's conventions in base units. Labels: workspace (its id), lease (the same id: a workspace is
/// its lease's) and project (the lease owner, until projects exist) — nothing else, so series grow only with
/// workspaces. Counters summed over devices (vCPUs, NICs, disks) drop if a device is removed; Prometheus' rate()
/// treats that as a counter reset. Only this host's workspaces count: those the desired set names or the inventory holds.
/// The host's running workspaces and what they are given (allocated) come from the same call.
/// </summary>
public sealed class WorkspaceStatsCollector
{
    private const double Nanoseconds = 1e9;
    private const double KiB = 1024;
    private static readonly string[] Labels = ["workspace", "lease", "project"];

    private readonly IHypervisor _hypervisor;
    private readonly DesiredState _desired;
    private readonly WorkspaceInventory _inventory;
    private readonly CollectedFamily _up;
    private readonly CollectedFamily _running;
    private readonly CollectedFamily _allocatedVcpus;
    private readonly CollectedFamily _allocatedMemory;
    private readonly (CollectedFamily Family, Func<DomainStats, double?> Read)[] _series;

    public WorkspaceStatsCollector(MetricsRegistry registry, IHypervisor hypervisor, DesiredState desired, WorkspaceInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _hypervisor = hypervisor;
        _desired = desired;
        _inventory = inventory;
        CollectedFamily Counter(string name, string help) => registry.CreateCollected(MetricType.Counter, name, help, Labels);
        CollectedFamily Gauge(string name, string help) => registry.CreateCollected(MetricType.Gauge, name, help, Labels);
        _up = Gauge("nodeagent_workspace_up", "1 while the workspace's domain runs, 0 otherwise (paused, shut off, crashed).");
        CollectedFamily HostGauge(string name, string help) => registry.CreateCollected(MetricType.Gauge, name, help);
        _running = HostGauge("nodeagent_host_running_workspaces", "This host's workspaces whose domains run.");
        _allocatedVcpus = HostGauge("nodeagent_host_allocated_vcpus", "vCPUs given to this host's running or paused workspaces.");
        _allocatedMemory = HostGauge("nodeagent_host_allocated_memory_bytes", "Memory given to this host's running or paused workspaces (their balloon maximum).");
        _series =
        [
            (Counter("nodeagent_workspace_cpu_seconds_total", "CPU time of the whole domain (vCPUs and QEMU's own threads), libvirt's cpu.time."), s => s["cpu.time"] / Nanoseconds),
            (Counter("nodeagent_workspace_vcpu_seconds_total", "CPU time of the workspace's vCPUs, summed over them (libvirt's vcpu.N.time)."), s => s.Sum("vcpu", "time") / Nanoseconds),
            (Gauge("nodeagent_workspace_vcpus", "vCPUs the domain has now (libvirt's vcpu.current)."), s => s["vcpu.current"]),
            (Gauge("nodeagent_workspace_memory_bytes", "Memory the guest has now: the balloon's current size."), s => s["balloon.current"] * KiB),
            (Gauge("nodeagent_workspace_memory_maximum_bytes", "Memory the domain is defined with: the balloon's maximum."), s => s["balloon.maximum"] * KiB),
            (Gauge("nodeagent_workspace_memory_rss_bytes", "Resident memory of the domain's QEMU process (libvirt's balloon.rss)."), s => s["balloon.rss"] * KiB),
            (Counter("nodeagent_workspace_network_receive_bytes_total", "Bytes received on the workspace's NICs, summed."), s => s.Sum("net", "rx.bytes")),
            (Counter("nodeagent_workspace_network_transmit_bytes_total", "Bytes sent on the workspace's NICs, summed."), s => s.Sum("net", "tx.bytes")),
            (Counter("nodeagent_workspace_network_receive_packets_total", "Packets received on the workspace's NICs, summed."), s => s.Sum("net", "rx.pkts")),
            (Counter("nodeagent_workspace_network_transmit_packets_total", "Packets sent on the workspace's NICs, summed."), s => s.Sum("net", "tx.pkts")),
            (Counter("nodeagent_workspace_disk_read_bytes_total", "Bytes read from the workspace's disks, summed."), s => s.Sum("block", "rd.bytes")),
            (Counter("nodeagent_workspace_disk_write_bytes_total", "Bytes written to the workspace's disks, summed."), s => s.Sum("block", "wr.bytes")),
            (Counter("nodeagent_workspace_disk_read_requests_total", "Read requests to the workspace's disks, summed."), s => s.Sum("block", "rd.reqs")),
            (Counter("nodeagent_workspace_disk_write_requests_total", "Write requests to the workspace's disks, summed."), s => s.Sum("block", "wr.reqs")),
        ];
        registry.AddCollector("workspaces", Collect);
    }

    /// <summary>Gives the samples of every workspace on this host; the one libvirt call is the bulk stats call.</summary>
    public void Collect(Scrape scrape)
    {
        ArgumentNullException.ThrowIfNull(scrape);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in _desired.Latest?.Workspaces ?? [])
        {
            owners[spec.Id] = spec.Owner;
        }

        var held = _inventory.Held;
        var (running, vcpus, memory) = (0, 0.0, 0.0);
        foreach (var stats in _hypervisor.GetAllDomainStats(DomainNames.Prefix))
        {
            if (!DomainNames.TryParse(stats.Name, out var id) || !(owners.ContainsKey(id) || held.ContainsKey(id)))
            {
                continue;
            }

            string[] labels = [id, id, owners.GetValueOrDefault(id, string.Empty)];
            var state = (DomainState)(stats["state.state"] ?? 0);
            scrape.Add(_up, state == DomainState.Running ? 1 : 0, labels);
            if (state is DomainState.Running or DomainState.Blocked or DomainState.Paused)
            {
                running += state == DomainState.Paused ? 0 : 1;
                vcpus += stats["vcpu.current"] ?? 0;
                memory += (stats["balloon.maximum"] ?? 0) * KiB;
            }

            foreach (var (family, read) in _series)
            {
                if (read(stats) is { } value)
                {
                    scrape.Add(family, value, labels);
                }
            }
        }

        scrape.Add(_running, running);
        scrape.Add(_allocatedVcpus, vcpus);
        scrape.Add(_allocatedMemory, memory);
    }
}
