using NodeAgent.Service;

namespace NodeAgent.Scheduler.Systemd;

/// <summary>Adds what makes the scheduler a good systemd service: notifications, the watchdog, and reload on SIGHUP.</summary>
public static class SchedulerSystemd
{
    /// <param name="configuration">The configuration the scheduler started with; a reload reads its file again.</param>
    /// <param name="liveness">The expiry loop's progress, with systemd's watchdog interval (if any).</param>
    public static void Add(IServiceCollection services, SchedulerCommandLine commandLine, DaemonConfiguration configuration, LogLevelSwitch levels,
        SystemdNotifier notifier, Liveness liveness)
    {
        services.AddSingleton(commandLine).AddSingleton(levels).AddSingleton(notifier).AddSingleton(liveness);
        services.AddSingleton<IServiceState, SchedulerServiceState>();
        services.AddHostedService<ServiceNotifications>();
        services.AddHostedService<WatchdogPinger>();
        services.AddSingleton<IReloadTarget, SchedulerReload>();
        services.AddSingleton(sp => new ConfigReloader(configuration, sp.GetRequiredService<IReloadTarget>(), sp.GetRequiredService<IServiceState>(),
            notifier, sp.GetRequiredService<ILogger<ConfigReloader>>()));
        services.AddHostedService(sp => sp.GetRequiredService<ConfigReloader>());
    }
}
