using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Leases that wait for their moment: starts each advance reservation at its start, then gives the best-effort queue
/// a pass. Runs every second, and at once when a lease ends or fails (<see cref="LeaseManager.QueueWake"/>), since
/// that frees capacity. Reservations go first: their capacity was promised.
/// </summary>
/// <remarks>With several replicas, only the one holding <paramref name="leadership"/> runs the queue and starts reservations.</remarks>
public sealed partial class QueueService(LeaseManager leases, TimeProvider time, ILogger<QueueService> logger, Replicas.Leadership? leadership = null) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        var tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
        while (!stoppingToken.IsCancellationRequested)
        {
            // Taken before the pass, so a lease that ends during it wakes the next one.
            var woken = leases.QueueWake.NextChange(LeaseManager.QueueKey);
            try
            {
                if (leadership is null || await leadership.HoldAsync(stoppingToken))
                {
                    var started = await leases.StartDueReservationsAsync(stoppingToken);
                    var placed = await leases.PlaceQueuedAsync(stoppingToken);
                    if (started + placed > 0)
                    {
                        LogPass(logger, started, placed);
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failing store must not stop the queue for good: log it and try again at the next tick.
                LogFailed(logger, e);
            }

            try
            {
                if (await Task.WhenAny(tick, woken.WaitAsync(stoppingToken)) == tick)
                {
                    if (!await tick)
                    {
                        return;
                    }

                    tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 320, Level = LogLevel.Information, Message = "{Started} reservations started, {Placed} queued leases placed")]
    private static partial void LogPass(ILogger logger, int started, int placed);

    [LoggerMessage(EventId = 321, Level = LogLevel.Error, Message = "Starting reservations or placing queued leases failed; retrying in a second")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
