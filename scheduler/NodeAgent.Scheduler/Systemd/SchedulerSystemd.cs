using NodeAgent.Service;

namespace NodeAgent.Scheduler.Systemd;

/// <summary>Adds what makes the scheduler a good systemd service: notifications, the watchdog, and reload on SIGHUP.</summary>
public static class SchedulerSystemd
{
    /// <param name="configuration">The configuration the scheduler started with; a reload reads its file again.</param>
    /// <param name="liveness">The expiry loop's progress, with systemd's watchdog interval (if any).</param>
    public static void Add(IServiceCollection services, SchedulerCommandLine commandLine, DaemonConfiguration configuration, LogLevelSwitch levels,
        SystemdNotifier notifier, Liveness liveness) =>
        SystemdServices.Add<SchedulerCommandLine, SchedulerServiceState, SchedulerReload>(services, commandLine, configuration, levels, notifier, liveness);
}
