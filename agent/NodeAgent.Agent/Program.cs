using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using System.CommandLine;
using NodeAgent.Agent;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Reporting;
using AgentServiceClient = NodeAgent.Contract.V1.AgentServiceClient;
using NodeAgent.Rpc.Client;

var scheduler = new Option<string>("--scheduler")
{
    Description = $"The scheduler's gRPC address. Default: {AgentOptions.DefaultScheduler}",
    DefaultValueFactory = _ => AgentOptions.DefaultScheduler,
};
var stateDirectory = new Option<string>("--state-directory")
{
    Description = "Where the agent keeps its host id and workspace disks.",
    DefaultValueFactory = _ => new AgentOptions().StateDirectory,
};
var hostId = new Option<string?>("--host-id") { Description = "Register under this id instead of the one kept in the state directory." };

var root = new RootCommand("nodeagent: runs leased workspaces on this host as libvirt domains and reports to the scheduler.")
{
    scheduler, stateDirectory, hostId,
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

    var id = HostIdentity.LoadOrCreate(options.StateDirectory, options.HostId, Environment.MachineName);
    var probe = new HostProbe(new ProcFileSystem(options.ProcRoot));
    var builder = Host.CreateApplicationBuilder();
    builder.Services.AddSingleton(options);
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddSingleton(_ => new Random());
    builder.Services.AddSingleton(probe);
    builder.Services.AddSingleton(probe.Describe(id, options.StateDirectory));
    builder.Services.AddSingleton(_ => new RpcChannel(options.Scheduler));
    builder.Services.AddSingleton(sp => new AgentServiceClient(sp.GetRequiredService<RpcChannel>()));
    builder.Services.AddSingleton<DesiredState>();
    builder.Services.AddHostedService<SchedulerLink>();
    using var app = builder.Build();
    await app.RunAsync(cancellationToken);
    return 0;
});

return await root.Parse(args).InvokeAsync();
