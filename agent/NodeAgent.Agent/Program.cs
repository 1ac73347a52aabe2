using Microsoft.Extensions.Hosting;
using NodeAgent.Agent;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Systemd;
using NodeAgent.Service;

// The options, the configuration file and their binding are AgentCommandLine's; this file only wires the start.
var commandLine = new AgentCommandLine();
return await commandLine.Service.RunAsync(commandLine.Root, args, async configuration =>
{
    var host = new HostProbe(new ProcFileSystem(new AgentOptions().ProcRoot)).Size();
    var service = commandLine.Service.Bind(configuration);
    var options = commandLine.Bind(configuration, host);
    if (configuration.Problems.Count > 0)
    {
        return await commandLine.Service.RefuseAsync(configuration.Problems);
    }

    if (configuration.Summary is { } summary)
    {
        await Console.Out.WriteLineAsync("nodeagent: " + summary);
    }

    await Console.Out.WriteLineAsync("nodeagent: " + options.Capacity.Describe(host));

    // The first connection is made here, so a libvirtd that is not there stops the start with a clear message;
    // later connections are made by the agent itself when libvirtd comes back after an outage.
    ILibvirtConnection? first;
    try
    {
        first = Libvirt.Open(options.LibvirtUri, options.DomainType);
        await Console.Out.WriteLineAsync($"nodeagent: libvirt {first.Uri}: guests are {first.DomainType} domains ({first.DomainTypeReason})");
    }
    catch (LibvirtException e)
    {
        await Console.Error.WriteLineAsync("nodeagent: " + e.Message);
        return 1;
    }

    var levels = new LogLevelSwitch(service.LogLevel);
    using var notifier = SystemdNotifier.FromEnvironment();
    var liveness = new Liveness(TimeProvider.System, WatchdogPinger.IntervalFromEnvironment());
    using var app = AgentApp.Build(
        options,
        () => Interlocked.Exchange(ref first, null) ?? Libvirt.Open(options.LibvirtUri, options.DomainType),
        logging => ServiceLogging.Configure(logging, service.LogFormat, levels, commandLine.Service.Program),
        configureServices: services => AgentSystemd.Add(services, commandLine, configuration, levels, notifier, liveness));
    await app.RunAsync();
    return 0;
});
