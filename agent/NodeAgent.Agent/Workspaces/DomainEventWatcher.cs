using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Reports what happens to workspaces between reconciles, as libvirt's lifecycle events tell it: a guest that
/// powers itself off, crashes, or is destroyed or undefined from outside NodeAgent is reported at once. Events
/// of domains the agent is removing itself (no longer wanted) and of foreign domains are ignored.
/// </summary>
public sealed partial class DomainEventWatcher(IHypervisor hypervisor, DesiredState desired, StatusReporter reporter, WorkspaceOperations operations, ILogger<DomainEventWatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var events = Channel.CreateUnbounded<DomainEvent>(new UnboundedChannelOptions { SingleReader = true });
        using var subscription = hypervisor.WatchLifecycle(e => events.Writer.TryWrite(e));
        await foreach (var e in events.Reader.ReadAllAsync(stoppingToken))
        {
            Handle(e);
        }
    }

    private void Handle(DomainEvent e)
    {
        if (!DomainNames.TryParse(e.Name, out var id) || operations.IsOwnAction(id) || desired.Latest?.Workspaces.Any(w => w.Id == id) != true)
        {
            return;
        }

        LogEvent(logger, id, e.Kind, e.Detail);

        // The state machine looks at once too: what changed outside NodeAgent may need a step (a workspace
        // its owner wants stopped, started from outside, is stopped again).
        desired.Wake();
        switch (e.Kind)
        {
            case DomainEventKind.Stopped when e.Detail == 2:
            case DomainEventKind.Crashed:
                reporter.Report(id, WorkspaceState.Failed, "the guest crashed");
                break;
            case DomainEventKind.Stopped:
                reporter.Report(id, WorkspaceState.Stopped, StoppedDetail(e.Detail));
                break;
            case DomainEventKind.Undefined:
                reporter.Report(id, WorkspaceState.Gone, "its domain was undefined outside NodeAgent");
                break;
            case DomainEventKind.Started or DomainEventKind.Resumed:
                reporter.Report(id, WorkspaceState.Running);
                break;
        }
    }

    /// <summary>libvirt's virDomainEventStoppedDetailType in words.</summary>
    public static string StoppedDetail(int detail) => detail switch
    {
        0 => "the guest shut itself down",
        1 => "its domain was destroyed outside NodeAgent",
        3 => "the guest was migrated away",
        4 => "the guest was saved to a file",
        5 => "the host failed to run the guest",
        _ => "the guest stopped",
    };

    [LoggerMessage(EventId = 420, Level = LogLevel.Information, Message = "Workspace {WorkspaceId}: libvirt event {Kind} (detail {Detail})")]
    private static partial void LogEvent(ILogger logger, string workspaceId, DomainEventKind kind, int detail);
}
