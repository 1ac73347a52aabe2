using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>
/// Ends drains: every <see cref="SchedulerOptions.DrainCheckInterval"/> it moves each draining host to drained
/// once no lease holds capacity on it, or to drain-failed (naming the leases left) once its deadline has come.
/// It never stops, ends or moves a workspace: a drain only waits for leases to end.
/// </summary>
/// <remarks>With several replicas, only the one holding <paramref name="leadership"/> checks drains.</remarks>
public sealed partial class DrainMonitor(
    HostRegistry hosts, SchedulerOptions options, TimeProvider time, ILogger<DrainMonitor> logger, Replicas.Leadership? leadership = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.DrainCheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (leadership is not null && !await leadership.HoldAsync(stoppingToken))
                {
                    continue;
                }

                await CheckAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failing store must not end drains for good: log it and look again at the next tick.
                LogFailed(logger, e, options.DrainCheckInterval);
            }
        }
    }

    /// <summary>One pass over every draining host; returns how many of them became drained or drain-failed.</summary>
    public async Task<int> CheckAsync(CancellationToken cancellationToken)
    {
        var changed = 0;
        foreach (var host in hosts.List().Where(h => h.Admin.State == HostAdminState.Draining))
        {
            if (await hosts.AdvanceDrainAsync(host, cancellationToken) is not { } next)
            {
                continue;
            }

            changed++;
            if (next.State == HostAdminState.Drained)
            {
                LogDrained(logger, host.Id.Value);
            }
            else
            {
                LogDrainFailed(logger, host.Id.Value, next.DrainDeadline, next.Reason);
            }
        }

        return changed;
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Host {HostId} is drained: no lease holds capacity on it")]
    private static partial void LogDrained(ILogger logger, string hostId);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Draining host {HostId} failed at its deadline {Deadline}: {Reason}")]
    private static partial void LogDrainFailed(ILogger logger, string hostId, DateTimeOffset? deadline, string reason);

    [LoggerMessage(EventId = 112, Level = LogLevel.Error, Message = "Checking draining hosts failed; looking again in {Interval}")]
    private static partial void LogFailed(ILogger logger, Exception exception, TimeSpan interval);
}
