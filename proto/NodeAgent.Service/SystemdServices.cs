using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>What makes a daemon a good systemd service: notifications, the watchdog, and reload on SIGHUP.</summary>
public static class SystemdServices
{
    /// <typeparam name="TState">What the daemon tells systemd about itself (STATUS=).</typeparam>
    /// <typeparam name="TReload">What a reload applies of a configuration read again.</typeparam>
    /// <param name="configuration">The configuration the daemon started with; a reload reads its file again.</param>
    /// <param name="liveness">The daemon's main loop's progress, with systemd's watchdog interval (if any).</param>
    public static void Add<TCommandLine, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TState,
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TReload>(IServiceCollection services, TCommandLine commandLine, DaemonConfiguration configuration,
        LogLevelSwitch levels, SystemdNotifier notifier, Liveness liveness)
        where TCommandLine : class
        where TState : class, IServiceState
        where TReload : class, IReloadTarget
    {
        services.AddSingleton(commandLine).AddSingleton(levels).AddSingleton(notifier).AddSingleton(liveness);
        services.AddSingleton<IServiceState, TState>();
        services.AddHostedService<ServiceNotifications>();
        services.AddHostedService<WatchdogPinger>();
        services.AddSingleton<IReloadTarget, TReload>();
        services.AddSingleton(sp => new ConfigReloader(configuration, sp.GetRequiredService<IReloadTarget>(), sp.GetRequiredService<IServiceState>(),
            notifier, sp.GetRequiredService<ILogger<ConfigReloader>>()));
        services.AddHostedService(sp => sp.GetRequiredService<ConfigReloader>());
    }
}
