using NodeAgent.Rpc.Server;

namespace NodeAgent.Scheduler;

/// <summary>The scheduler's configuration, validated as a whole.</summary>
public sealed record SchedulerOptions
{
    public const string DefaultListen = "http://127.0.0.1:7700";

    public IReadOnlyList<RpcListenAddress> Listen { get; init; } = [RpcListenAddress.Parse(DefaultListen)];

    /// <summary>The SQLite file; created with its schema on first start.</summary>
    public string DatabasePath { get; init; } = "/var/lib/nodeagent-scheduler/scheduler.db";

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan HeartbeatTtl { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Every problem with these options at once, each naming the setting and what is allowed.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Listen.Count == 0)
        {
            problems.Add("listen: at least one address is needed, e.g. " + DefaultListen);
        }

        if (string.IsNullOrWhiteSpace(DatabasePath))
        {
            problems.Add("database: a file path is needed");
        }

        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            problems.Add($"heartbeat-interval: {HeartbeatInterval} must be positive");
        }

        if (HeartbeatTtl < HeartbeatInterval * 2)
        {
            problems.Add($"heartbeat-ttl: {HeartbeatTtl} must be at least twice heartbeat-interval ({HeartbeatInterval}), or one late heartbeat marks a host down");
        }

        return problems;
    }
}
