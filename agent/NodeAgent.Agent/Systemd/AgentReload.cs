using Microsoft.Extensions.Logging;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Service;

namespace NodeAgent.Agent.Systemd;

/// <summary>
/// What a reload changes in a running agent (<see cref="AgentCommandLine.ReloadableKeys"/>): its labels (registered
/// again at once), the capacity policy (the next heartbeat reports the new capacity, and new workspaces are checked
/// against it), the stop timeout, the usage sampling period and the log level. Workspaces that run are not touched:
/// a smaller capacity only refuses new ones.
/// </summary>
public sealed partial class AgentReload(
    AgentCommandLine commandLine,
    Reloadable<AgentOptions> settings,
    HostProbe probe,
    UsageSampler sampler,
    LogLevelSwitch levels,
    SchedulerConnection scheduler,
    AgentServiceClient client,
    HeartbeatSource source,
    ILogger<AgentReload> logger) : IReloadTarget
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    public IReadOnlySet<string> ReloadableKeys => AgentCommandLine.ReloadableKeys;

    public async Task<bool> ApplyAsync(DaemonConfiguration configuration, IReadOnlySet<string> changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(changed);
        var host = probe.Size();
        var service = commandLine.Service.Bind(configuration);
        var next = commandLine.Bind(configuration, host);
        if (configuration.Problems.Count > 0)
        {
            return false;
        }

        var running = settings.Current with
        {
            Labels = next.Labels,
            ReservedVcpus = next.ReservedVcpus,
            ReservedMemoryBytes = next.ReservedMemoryBytes,
            CpuOvercommit = next.CpuOvercommit,
            MemoryOvercommit = next.MemoryOvercommit,
            StopTimeout = next.StopTimeout,
            UsagePeriod = next.UsagePeriod,
        };
        settings.Set(running);
        sampler.Period = running.UsagePeriod;
        levels.Minimum = service.LogLevel;
        var capacity = running.Capacity.Describe(host);
        LogCapacity(logger, capacity);
        if (changed.Contains("label"))
        {
            await RegisterAgainAsync(cancellationToken);
        }

        return true;
    }

    /// <summary>Labels travel only in a registration: register again now, or leave them to the next registration when the scheduler is away.</summary>
    private async Task RegisterAgainAsync(CancellationToken cancellationToken)
    {
        if (scheduler.State != SchedulerLinkState.Connected)
        {
            LogLabelsLater(logger, "the scheduler is not connected");
            return;
        }

        try
        {
            await client.RegisterHostAsync(new RegisterHostRequest { Host = source.Registration() }, CallOptions.WithTimeout(CallTimeout, cancellationToken));
            LogLabelsSent(logger, settings.Current.Labels.Count);
        }
        catch (RpcException e)
        {
            LogLabelsLater(logger, e.Message);
        }
    }

    [LoggerMessage(EventId = 9100, Level = LogLevel.Information, Message = "Capacity after the reload: {Capacity}")]
    private static partial void LogCapacity(ILogger logger, string capacity);

    [LoggerMessage(EventId = 9101, Level = LogLevel.Information, Message = "Registered again with {Count} labels")]
    private static partial void LogLabelsSent(ILogger logger, int count);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Warning, Message = "The new labels reach the scheduler at the next registration ({Reason})")]
    private static partial void LogLabelsLater(ILogger logger, string reason);
}
