using System.CommandLine;
using Microsoft.Extensions.Hosting;
using NodeAgent.Agent;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Networking;
using NodeAgent.Agent.Partitions;
using NodeAgent.Rpc.Client;

var scheduler = new Option<string>("--scheduler")
{
    Description = $"The scheduler's gRPC address. Default: {AgentOptions.DefaultScheduler}",
    DefaultValueFactory = _ => AgentOptions.DefaultScheduler,
};
var stateDirectory = new Option<string>("--state-directory")
{
    Description = "Where the agent keeps its host id, images and workspace disks.",
    DefaultValueFactory = _ => new AgentOptions().StateDirectory,
};
var imagesDirectory = new Option<string?>("--images-directory")
{
    Description = "The image cache: images workspaces boot from, fetched from the catalogue's URLs on first use, verified against their "
        + "sha256 and kept by digest (one copy per image). Default: STATE/images.",
};
var imageCacheSize = new Option<string>("--image-cache-size")
{
    Description = "The most the image cache may hold, e.g. 50G. Images no workspace on this host uses are evicted, least recently used first, "
        + "to make room; an image a workspace uses is never evicted, so a lease whose image does not fit fails, saying so.",
    DefaultValueFactory = _ => "50G",
};
var imageFetchAttempts = new Option<int>("--image-fetch-attempts")
{
    Description = "How often a download is tried (resuming where the last attempt stopped, waiting 1, 2, 4… up to 30 s between) before the "
        + "workspace fails with the reason. A 404 or a wrong digest is not tried again.",
    DefaultValueFactory = _ => new AgentOptions().ImageFetchAttempts,
};
var libvirtUri = new Option<string>("--libvirt-uri")
{
    Description = "The libvirt connection URI.",
    DefaultValueFactory = _ => new AgentOptions().LibvirtUri,
};
var domainType = new Option<DomainTypePreference>("--domain-type")
{
    Description = "Domain type for guests: Auto (KVM when usable for ordinary guests, else QEMU emulation), Kvm, or Qemu.",
    DefaultValueFactory = _ => DomainTypePreference.Auto,
};
var reconcileInterval = new Option<TimeSpan>("--reconcile-interval")
{
    Description = "How often to compare every workspace with libvirt even when no change or event arrived (hh:mm:ss).",
    DefaultValueFactory = _ => new AgentOptions().ReconcileInterval,
};
var stopTimeout = new Option<TimeSpan>("--stop-timeout")
{
    Description = "How long a guest asked to shut down (ACPI: `ws stop`, `ws reboot`) gets before it is powered off (hh:mm:ss). "
        + "An agent restarted meanwhile keeps the original deadline.",
    DefaultValueFactory = _ => new AgentOptions().StopTimeout,
};
var usagePeriod = new Option<TimeSpan>("--usage-period")
{
    Description = "How often each workspace's use (CPU, memory, network, disk, powered-on time) is sampled into a usage record (hh:mm:ss). "
        + "Records are kept in STATE/usage until the scheduler has stored them (docs/metering.md).",
    DefaultValueFactory = _ => new AgentOptions().UsagePeriod,
};
var expiryMargin = new Option<TimeSpan>("--expiry-margin")
{
    Description = "When the scheduler has not ended a lease this long after its end, the agent shuts the guest down itself, and removes the "
        + "workspace this long after the destruction time the scheduler gave it (its --expiry-grace after the end): a host cut off from the "
        + "scheduler never keeps expired workspaces (hh:mm:ss).",
    DefaultValueFactory = _ => new AgentOptions().ExpiryMargin,
};
var parallelOperations = new Option<int>("--parallel-operations")
{
    Description = "How many workspaces may be created, stopped or removed at once; the others wait their turn.",
    DefaultValueFactory = _ => new AgentOptions().ParallelOperations,
};
var hostId = new Option<string?>("--host-id") { Description = "Register under this id instead of the one kept in the state directory." };
var networks = new Option<string[]>("--network")
{
    Description = "A network this host offers workspaces, as " + NetworkDefinition.Syntax + "; repeat it for each network. "
        + "The agent creates the bridge BRIDGE if it is missing and brings it up. With uplink=IFACE it makes IFACE a port of the bridge "
        + "(IFACE must carry no addresses); with vlan=ID (1-4094) it makes the VLAN interface IFACE.ID instead. "
        + "Bridges are never deleted by the agent. NAME: a lower-case letter, then up to 14 of a-z, 0-9, '-'; "
        + "BRIDGE: up to 15 of a-z, 0-9, '-', '_'. "
        + "Example: --network default=nabr0,uplink=eth1,vlan=100",
    Arity = ArgumentArity.ZeroOrMore,
    AllowMultipleArgumentsPerToken = false,
};

// What the host offers to workspaces: (host's amount − reserved) × overcommit, rounded down.
var reservedVcpus = new Option<int>("--reserved-vcpus")
{
    Description = "Host CPUs kept for the host itself (OS, libvirtd, QEMU's I/O, this agent) and not offered to workspaces.",
    DefaultValueFactory = _ => 0,
};
var reservedMemory = new Option<string?>("--reserved-memory")
{
    Description = "Memory kept for the host itself and not offered to workspaces, e.g. 512M or 2G. "
        + "Default: 512M, or a quarter of the host's memory when that is less.",
};
var cpuOvercommit = new Option<double>("--cpu-overcommit")
{
    Description = "vCPUs offered per host CPU left after --reserved-vcpus, above 0 and at most 64; 1 offers no more than the host has. "
        + "The default is OpenStack Nova's: workspaces are mostly idle and placement follows measured CPU load. Use 1 for CPU-bound batch work.",
    DefaultValueFactory = _ => CapacityPolicy.DefaultCpuOvercommit,
};
var memoryOvercommit = new Option<double>("--memory-overcommit")
{
    Description = "Memory offered per byte left after --reserved-memory, above 0 and at most 64. "
        + "The default offers none beyond the host's: guest memory is not ballooned, so memory promised twice ends with the OOM killer stopping a guest.",
    DefaultValueFactory = _ => CapacityPolicy.DefaultMemoryOvercommit,
};
var metricsListen = new Option<string>("--metrics-listen")
{
    Description = "Where Prometheus scrapes /metrics (text format 0.0.4; docs/metrics.md lists the series), as IP:PORT, or none. "
        + "The default listens on loopback only: open it to your Prometheus with e.g. 0.0.0.0:9177, and firewall it to that server.",
    DefaultValueFactory = _ => AgentOptions.DefaultMetricsListen,
};
var projectPartitions = new Option<PartitionMode>("--project-partitions")
{
    Description = "Run each project's workspaces in one cgroup partition (/machine/project-NAME) with an equal CPU weight, so a project "
        + "with ten workspaces cannot starve one with a single workspace: Auto (on with libvirt's QEMU driver on a host whose cgroups libvirt "
        + "manages itself; off under systemd, whose slices the agent does not manage yet), On, or Off (docs/resources.md).",
    DefaultValueFactory = _ => PartitionMode.Auto,
};

var root = new RootCommand("nodeagent: runs leased workspaces on this host as libvirt domains and reports to the scheduler.")
{
    scheduler, stateDirectory, imagesDirectory, imageCacheSize, imageFetchAttempts, libvirtUri, domainType, reconcileInterval, stopTimeout, usagePeriod, expiryMargin, parallelOperations, hostId, networks,
    reservedVcpus, reservedMemory, cpuOvercommit, memoryOvercommit, metricsListen, projectPartitions,
};
root.SetAction(async (result, cancellationToken) =>
{
    AgentOptions options;
    var networkProblems = new List<string>();
    var networkDefinitions = new List<NetworkDefinition>();
    foreach (var text in result.GetValue(networks) ?? [])
    {
        if (NetworkDefinition.TryParse(text, out var definition, out var problemsOfOne))
        {
            networkDefinitions.Add(definition!);
        }
        else
        {
            networkProblems.AddRange(problemsOfOne);
        }
    }

    try
    {
        options = new AgentOptions
        {
            Scheduler = RpcChannel.ParseAddress(result.GetValue(scheduler)!),
            StateDirectory = result.GetValue(stateDirectory)!,
            ImagesDirectory = result.GetValue(imagesDirectory),
            ImageCacheBytes = CapacityPolicy.ParseSize(result.GetValue(imageCacheSize)!, "--image-cache-size"),
            ImageFetchAttempts = result.GetValue(imageFetchAttempts),
            LibvirtUri = result.GetValue(libvirtUri)!,
            DomainType = result.GetValue(domainType),
            ReconcileInterval = result.GetValue(reconcileInterval),
            StopTimeout = result.GetValue(stopTimeout),
            UsagePeriod = result.GetValue(usagePeriod),
            ExpiryMargin = result.GetValue(expiryMargin),
            ParallelOperations = result.GetValue(parallelOperations),
            HostId = result.GetValue(hostId),
            Networks = networkDefinitions,
            ReservedVcpus = result.GetValue(reservedVcpus),
            ReservedMemoryBytes = result.GetValue(reservedMemory) is { } memory ? CapacityPolicy.ParseSize(memory, "--reserved-memory") : null,
            CpuOvercommit = result.GetValue(cpuOvercommit),
            MemoryOvercommit = result.GetValue(memoryOvercommit),
            MetricsListen = NodeAgent.Metrics.MetricsListenAddress.Parse(result.GetValue(metricsListen)!),
            ProjectPartitions = result.GetValue(projectPartitions),
        };
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync("nodeagent: " + e.Message);
        return 2;
    }

    var host = new HostProbe(new ProcFileSystem(options.ProcRoot)).Size();
    var problems = networkProblems.Concat(options.Validate(host)).ToList();
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync("nodeagent: invalid configuration:\n  " + string.Join("\n  ", problems));
        return 2;
    }

    await Console.Out.WriteLineAsync("nodeagent: " + options.Capacity.Describe(host));

    // The first connection is made here, so a libvirtd that is not there stops the start with a clear message;
    // later connections are made by the agent itself when libvirtd comes back after an outage.
    LibvirtHypervisor? first;
    try
    {
        first = LibvirtHypervisor.Open(options.LibvirtUri, options.DomainType);
        await Console.Out.WriteLineAsync($"nodeagent: libvirt {first.Uri}: guests are {first.DomainType} domains ({first.DomainTypeReason})");
    }
    catch (LibvirtException e)
    {
        await Console.Error.WriteLineAsync("nodeagent: " + e.Message);
        return 1;
    }

    using var app = AgentApp.Build(options, () => Interlocked.Exchange(ref first, null) ?? LibvirtHypervisor.Open(options.LibvirtUri, options.DomainType));
    await app.RunAsync(cancellationToken);
    return 0;
});

return await root.Parse(args).InvokeAsync();
