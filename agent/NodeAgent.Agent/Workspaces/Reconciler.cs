using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Makes the host hold exactly the workspaces the scheduler wants: creates what is missing, starts what is
/// stopped, removes what is no longer wanted, and reports each outcome. Runs on every new desired set and
/// every <see cref="AgentOptions.ReconcileInterval"/> besides, to catch what events missed. Before the first desired
/// set arrives it changes nothing, so an agent restart never removes a workspace by mistake.
/// </summary>
public sealed partial class Reconciler(
    DesiredState desired,
    WorkspaceInventory inventory,
    WorkspaceLifecycle lifecycle,
    StatusReporter reporter,
    WorkspaceOperations operations,
    AgentOptions options,
    TimeProvider time,
    ILogger<Reconciler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = desired.NextChange();
            try
            {
                await ReconcileAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogReconcileFailed(logger, e);
            }

            await Task.WhenAny(next, Task.Delay(options.ReconcileInterval, time, stoppingToken));
        }
    }

    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        if (desired.Latest is not { } set)
        {
            return;
        }

        var held = inventory.Refresh();
        var wanted = new Dictionary<string, Workspace>(StringComparer.Ordinal);
        foreach (var spec in set.Workspaces)
        {
            try
            {
                var workspace = Workspace.FromWire(spec);
                wanted[workspace.Id] = workspace;
            }
            catch (FormatException e)
            {
                reporter.Report(spec.Id, WorkspaceState.Failed, e.Message);
            }
        }

        foreach (var workspace in wanted.Values)
        {
            held.TryGetValue(workspace.Id, out var domain);
            if (domain?.StoppedAfterRunning == true)
            {
                // It ran and stopped (powered off, crashed, destroyed from outside): report it, never restart it
                // behind the user's back. The scheduler ends the lease and the workspace is then removed.
                reporter.Report(workspace.Id, WorkspaceState.Stopped, ShutoffReason(domain.Reason));
                continue;
            }

            var running = domain?.State == DomainState.Running;
            if (running || operations.FailedAt(workspace.Id, set.Version))
            {
                if (running)
                {
                    reporter.Report(workspace.Id, WorkspaceState.Running);
                }

                continue;
            }

            await CreateAsync(workspace, set.Version, cancellationToken);
        }

        foreach (var id in held.Keys.Where(id => !wanted.ContainsKey(id)))
        {
            await RemoveAsync(id, cancellationToken);
        }

        inventory.Refresh();
        desired.AppliedVersion = set.Version;
    }

    /// <summary>libvirt's virDomainShutoffReason in words.</summary>
    private static string ShutoffReason(int reason) => reason switch
    {
        1 => "the guest shut itself down",
        2 => "its domain was destroyed outside NodeAgent",
        3 => "the guest crashed",
        6 => "the host failed to run the guest",
        8 => "libvirt lost the guest while it was not running (daemon restart or host reboot)",
        _ => $"the guest is shut off (libvirt reason {reason})",
    };

    private async Task CreateAsync(Workspace workspace, ulong version, CancellationToken cancellationToken)
    {
        reporter.Report(workspace.Id, WorkspaceState.Preparing);
        var started = time.GetTimestamp();
        using var busy = operations.Begin(workspace.Id);
        try
        {
            await lifecycle.EnsureRunningAsync(workspace, cancellationToken);
            operations.ClearFailure(workspace.Id);
            var milliseconds = time.GetElapsedTime(started).TotalMilliseconds;
            LogStarted(logger, workspace.Id, milliseconds);
            reporter.Report(workspace.Id, WorkspaceState.Running);
        }
        catch (WorkspaceException e)
        {
            operations.MarkFailed(workspace.Id, version);
            LogCreateFailed(logger, workspace.Id, e.Message);
            reporter.Report(workspace.Id, WorkspaceState.Failed, e.Message);
        }
    }

    private async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        reporter.Report(id, WorkspaceState.Stopping);
        using var busy = operations.Begin(id);
        try
        {
            await lifecycle.RemoveAsync(id, cancellationToken);
            operations.ClearFailure(id);
            LogRemoved(logger, id);
            reporter.Report(id, WorkspaceState.Gone);
        }
        catch (WorkspaceException e)
        {
            reporter.Report(id, WorkspaceState.Failed, e.Message);
        }
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Workspace {WorkspaceId} running ({Milliseconds:0} ms to prepare, define and start)")]
    private static partial void LogStarted(ILogger logger, string workspaceId, double milliseconds);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId} could not be created: {Reason}")]
    private static partial void LogCreateFailed(ILogger logger, string workspaceId, string reason);

    [LoggerMessage(EventId = 412, Level = LogLevel.Information, Message = "Workspace {WorkspaceId} removed")]
    private static partial void LogRemoved(ILogger logger, string workspaceId);

    [LoggerMessage(EventId = 413, Level = LogLevel.Error, Message = "Reconciling workspaces failed; retrying at the next change or the next periodic reconcile")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception);
}
