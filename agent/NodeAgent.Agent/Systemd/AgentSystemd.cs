using Microsoft.Extensions.DependencyInjection;
using NodeAgent.Service;

namespace NodeAgent.Agent.Systemd;

/// <summary>Adds what makes the agent a good systemd service: notifications, the watchdog, and reload on SIGHUP.</summary>
public static class AgentSystemd
{
    /// <param name="configuration">The configuration the agent started with; a reload reads its file again.</param>
    /// <param name="liveness">The reconciler's progress, with systemd's watchdog interval (if any).</param>
    public static void Add(IServiceCollection services, AgentCommandLine commandLine, DaemonConfiguration configuration, LogLevelSwitch levels,
        SystemdNotifier notifier, Liveness liveness) =>
        SystemdServices.Add<AgentCommandLine, AgentServiceState, AgentReload>(services, commandLine, configuration, levels, notifier, liveness);
}
