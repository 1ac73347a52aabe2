using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Ends each lease at its end time: checks once a second for leases whose time is up. It is the scheduler's main
/// loop for systemd's watchdog: it marks <paramref name="liveness"/> at every tick, and ticks at least as often as
/// the watchdog needs (a pass still runs once a second).
/// </summary>
/// <remarks>With several replicas, only the one holding <paramref name="leadership"/> expires leases.</remarks>
public sealed partial class ExpiryService(
    LeaseManager leases, TimeProvider time, ILogger<ExpiryService> logger, Replicas.Leadership? leadership = null, NodeAgent.Service.Liveness? liveness = null) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var tick = liveness?.Bound(Interval) ?? Interval;
        var ticksPerPass = Math.Max(1, (int)Math.Round(Interval / tick));
        using var timer = new PeriodicTimer(tick, time);
        for (long ticks = 1; await timer.WaitForNextTickAsync(stoppingToken); ticks++)
        {
            liveness?.Mark();
            if (ticks % ticksPerPass != 0)
            {
                continue;
            }

            try
            {
                if (leadership is not null && !await leadership.HoldAsync(stoppingToken))
                {
                    continue;
                }

                var expired = await leases.ExpireDueAsync(stoppingToken);
                if (expired > 0)
                {
                    LogExpired(logger, expired);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failing store must not stop expiry for good: log it and try again at the next tick.
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "{Count} leases expired")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Expiring leases failed; retrying in a second")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
