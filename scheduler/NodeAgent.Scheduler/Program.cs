using System.CommandLine;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;

var listen = new Option<string[]>("--listen")
{
    Description = $"Address to serve gRPC on: http://IP:PORT (h2c) or https://IP:PORT. Repeatable. Default: {SchedulerOptions.DefaultListen}",
    AllowMultipleArgumentsPerToken = false,
};
var database = new Option<string>("--database")
{
    Description = "SQLite database file; created with its schema on first start.",
    DefaultValueFactory = _ => new SchedulerOptions().DatabasePath,
};
var heartbeatInterval = new Option<TimeSpan>("--heartbeat-interval")
{
    Description = "How often agents are asked to heartbeat (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().HeartbeatInterval,
};
var heartbeatTtl = new Option<TimeSpan>("--heartbeat-ttl")
{
    Description = "A host with no heartbeat for this long is down (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().HeartbeatTtl,
};

var root = new RootCommand("nodeagent-scheduler: registers hosts, places leased workspaces on them by load, and ends leases when they expire.")
{
    listen, database, heartbeatInterval, heartbeatTtl,
};
root.SetAction(async (result, cancellationToken) =>
{
    SchedulerOptions options;
    try
    {
        var addresses = result.GetValue(listen) is { Length: > 0 } given ? given : [SchedulerOptions.DefaultListen];
        options = new SchedulerOptions
        {
            Listen = addresses.Select(RpcListenAddress.Parse).ToList(),
            DatabasePath = result.GetValue(database)!,
            HeartbeatInterval = result.GetValue(heartbeatInterval),
            HeartbeatTtl = result.GetValue(heartbeatTtl),
        };
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync("nodeagent-scheduler: " + e.Message);
        return 2;
    }

    var problems = options.Validate();
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync("nodeagent-scheduler: invalid configuration:\n  " + string.Join("\n  ", problems));
        return 2;
    }

    await using var app = SchedulerApp.Build(options);
    await app.StartAsync(cancellationToken);
    foreach (var address in SchedulerApp.BoundAddresses(app))
    {
        Console.WriteLine($"nodeagent-scheduler listening on {address}");
    }

    await app.WaitForShutdownAsync(CancellationToken.None);
    return 0;
});

return await root.Parse(args).InvokeAsync();
