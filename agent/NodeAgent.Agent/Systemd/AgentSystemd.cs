using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodeAgent.Service;

namespace NodeAgent.Agent.Systemd;

/// <summary>Adds what makes the agent a good systemd service: notifications, the watchdog, and reload on SIGHUP.</summary>
public static class AgentSystemd
{
    /// <param name="configuration">The configuration the agent started with; a reload reads its file again.</param>
    /// <param name="liveness">The reconciler's progress, with systemd's watchdog interval (if any).</param>
    public static void Add(IServiceCollection services, AgentCommandLine commandLine, DaemonConfiguration configuration, LogLevelSwitch levels,
        SystemdNotifier notifier, Liveness liveness)
    {
        services.AddSingleton(commandLine).AddSingleton(levels).AddSingleton(notifier).AddSingleton(liveness);
        services.AddSingleton<IServiceState, AgentServiceState>();
        services.AddHostedService<ServiceNotifications>();
        services.AddHostedService<WatchdogPinger>();
        services.AddSingleton<IReloadTarget, AgentReload>();
        services.AddSingleton(sp => new ConfigReloader(configuration, sp.GetRequiredService<IReloadTarget>(), sp.GetRequiredService<IServiceState>(),
            notifier, sp.GetRequiredService<ILogger<ConfigReloader>>()));
        services.AddHostedService(sp => sp.GetRequiredService<ConfigReloader>());
    }
}
