using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Scheduler.Leases;

/// <summary>Ends each lease at its end time: checks once a second for leases whose time is up.</summary>
public sealed partial class ExpiryService(LeaseManager leases, TimeProvider time, ILogger<ExpiryService> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
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
