using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>What a daemon tells systemd about itself: when it serves, and a one-line summary of how it is.</summary>
public interface IServiceState
{
    /// <summary>Completes when the daemon serves; awaited once the host has started every service.</summary>
    Task WhenReadyAsync(CancellationToken cancellationToken);

    /// <summary>One line for `systemctl status`, e.g. "12 workspaces, scheduler connected". Cheap: it is asked every few seconds.</summary>
    string Describe();
}

/// <summary>
/// Sends READY=1 (with the first STATUS=) once the host has started and <see cref="IServiceState.WhenReadyAsync"/>
/// completes, STATUS= whenever the summary changes (looked at every <see cref="StatusInterval"/>), and STOPPING=1
/// as soon as the host begins to stop. Readiness and stopping are logged too, so the same facts are in the log
/// without systemd; without systemd ($NOTIFY_SOCKET unset) the summary is not polled at all.
/// </summary>
public sealed partial class ServiceNotifications(
    SystemdNotifier notifier, IServiceState state, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<ServiceNotifications> logger) : BackgroundService
{
    /// <summary>How often the summary is compared with the one sent last.</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(2);

    private CancellationTokenRegistration _stopping;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered before anything else runs, so even a start that fails half-way says it is stopping.
        _stopping = lifetime.ApplicationStopping.Register(() =>
        {
            notifier.Stopping("stopping");
            LogStopping(logger);
        });
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _stopping.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await WhenStartedAsync(stoppingToken);
            await state.WhenReadyAsync(stoppingToken);
            var status = state.Describe();
            notifier.Ready(status);
            LogReady(logger, status);
            if (!notifier.Enabled)
            {
                return;
            }

            using var timer = new PeriodicTimer(StatusInterval, time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = state.Describe();
                if (now != status)
                {
                    status = now;
                    notifier.Status(status);
                    LogStatus(logger, status);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken).ContinueWith(t =>
        {
            registration.Dispose();
            return t;
        }, TaskScheduler.Default).Unwrap();
    }

    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "Ready: {Status}")]
    private static partial void LogReady(ILogger logger, string status);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Debug, Message = "Status: {Status}")]
    private static partial void LogStatus(ILogger logger, string status);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Stopping")]
    private static partial void LogStopping(ILogger logger);
}
