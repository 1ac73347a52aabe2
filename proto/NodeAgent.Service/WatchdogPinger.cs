using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>
/// Sends WATCHDOG=1 every half of systemd's watchdog interval, but only while the daemon's main loop is alive
/// (<see cref="Liveness"/>): a timer of its own would keep pinging for a daemon whose real work is stuck. When the
/// loop stops making progress the pings stop, and systemd (WatchdogSec=, Restart=on-failure) restarts the service.
/// </summary>
public sealed partial class WatchdogPinger(Liveness liveness, SystemdNotifier notifier, TimeProvider time, ILogger<WatchdogPinger> logger) : BackgroundService
{
    private bool _stalled;

    /// <summary>
    /// The watchdog interval systemd asks for: $WATCHDOG_USEC microseconds, when $WATCHDOG_PID is unset or names
    /// this process (a child that inherited the variables must not ping for its parent); otherwise null.
    /// </summary>
    public static TimeSpan? IntervalFrom(string? watchdogUsec, string? watchdogPid, int processId)
    {
        if (!ulong.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec == 0 || usec > (ulong)TimeSpan.MaxValue.TotalMicroseconds)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(watchdogPid) && (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid != processId))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(usec);
    }

    /// <summary>The interval this process's environment asks for (see <see cref="IntervalFrom"/>).</summary>
    public static TimeSpan? IntervalFromEnvironment() =>
        IntervalFrom(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);

    /// <summary>Pings once if the main loop is alive; returns whether a ping was sent. Logs when the loop stalls and when it recovers.</summary>
    public bool PingOnce()
    {
        if (liveness.IsAlive)
        {
            if (_stalled)
            {
                _stalled = false;
                LogRecovered(logger, liveness.SinceLastMark.TotalSeconds);
            }

            return notifier.Watchdog();
        }

        if (!_stalled)
        {
            _stalled = true;
            LogStalled(logger, liveness.SinceLastMark.TotalSeconds, liveness.Watchdog!.Value.TotalSeconds);
        }

        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (liveness.Watchdog is not { } interval || !notifier.Enabled)
        {
            return;
        }

        LogWatching(logger, interval.TotalSeconds);
        using var timer = new PeriodicTimer(interval / 2, time);
        try
        {
            do
            {
                PingOnce();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 9010, Level = LogLevel.Information, Message = "systemd watchdog every {WatchdogSeconds} s: pinging every half of it while the main loop makes progress")]
    private static partial void LogWatching(ILogger logger, double watchdogSeconds);

    [LoggerMessage(EventId = 9011, Level = LogLevel.Critical, Message = "The main loop has made no progress for {Seconds:0.0} s (watchdog {WatchdogSeconds} s): no more watchdog pings, so systemd restarts the service")]
    private static partial void LogStalled(ILogger logger, double seconds, double watchdogSeconds);

    [LoggerMessage(EventId = 9012, Level = LogLevel.Warning, Message = "The main loop makes progress again (last {Seconds:0.0} s ago); watchdog pings resume")]
    private static partial void LogRecovered(ILogger logger, double seconds);
}
