using System.CommandLine;
using Microsoft.Extensions.Hosting;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
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
var imagesDirectory = new Option<string?>("--images-directory") { Description = "Where cached base images live. Default: STATE/images." };
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
var parallelOperations = new Option<int>("--parallel-operations")
{
    Description = "How many workspaces may be created, stopped or removed at once; the others wait their turn.",
    DefaultValueFactory = _ => new AgentOptions().ParallelOperations,
};
var hostId = new Option<string?>("--host-id") { Description = "Register under this id instead of the one kept in the state directory." };

var root = new RootCommand("nodeagent: runs leased workspaces on this host as libvirt domains and reports to the scheduler.")
{
    scheduler, stateDirectory, imagesDirectory, libvirtUri, domainType, reconcileInterval, stopTimeout, parallelOperations, hostId,
};
root.SetAction(async (result, cancellationToken) =>
{
    AgentOptions options;
    try
    {
        options = new AgentOptions
        {
            Scheduler = RpcChannel.ParseAddress(result.GetValue(scheduler)!),
            StateDirectory = result.GetValue(stateDirectory)!,
            ImagesDirectory = result.GetValue(imagesDirectory),
            LibvirtUri = result.GetValue(libvirtUri)!,
            DomainType = result.GetValue(domainType),
            ReconcileInterval = result.GetValue(reconcileInterval),
            StopTimeout = result.GetValue(stopTimeout),
            ParallelOperations = result.GetValue(parallelOperations),
            HostId = result.GetValue(hostId),
        };
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync("nodeagent: " + e.Message);
        return 2;
    }

    var problems = options.Validate();
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync("nodeagent: invalid configuration:\n  " + string.Join("\n  ", problems));
        return 2;
    }

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
