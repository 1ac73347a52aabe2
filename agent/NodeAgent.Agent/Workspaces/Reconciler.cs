using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Makes the host hold exactly the workspaces the scheduler wants, in the power state it wants: every
/// workspace wanted or present (a domain, or only files) gets a <see cref="WorkspaceMachine"/> drive of its
/// own, so a guest slow to shut down holds up no other. Runs on every new desired set and every
/// <see cref="AgentOptions.ReconcileInterval"/> besides, to catch what events missed. Before the first desired
/// set arrives it changes nothing, so an agent restart never removes a workspace by mistake. On stop it
/// abandons waits in progress; their phase is persisted, and the next agent resumes them.
/// </summary>
public sealed partial class Reconciler(
    DesiredState desired,
    WorkspaceInventory inventory,
    WorkspaceMachine machine,
    DiskManager disks,
    IHypervisor hypervisor,
    Networking.WorkspaceNetworks networks,
    StatusReporter reporter,
    WorkspaceOperations operations,
    AgentOptions options,
    TimeProvider time,
    ILogger<Reconciler> logger,
    Metrics.AgentMetrics? metrics = null,
    NodeAgent.Service.Liveness? liveness = null) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Task> _drives = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _slots = new(options.ParallelOperations);
    private readonly LocalExpiry _expiry = new(options.ExpiryMargin);
    private readonly ConcurrentDictionary<string, LocalExpiryStage> _expiryLogged = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var next = desired.NextChange();
                try
                {
                    await LaunchAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogReconcileFailed(logger, e);
                }

                await WaitAsync(next, stoppingToken);
            }
        }
        finally
        {
            // Each drive ends at its next step or wait once the token is cancelled.
            await Task.WhenAll(_drives.Values);
        }
    }

    /// <summary>
    /// Waits for the next change or the periodic pass. The loop marks itself alive at every pass and every wake-up, and
    /// wakes at least as often as systemd's watchdog needs (<see cref="NodeAgent.Service.Liveness.Bound"/>) even
    /// when nothing happens: an idle agent is alive, one stuck in a pass is not.
    /// </summary>
    private async Task WaitAsync(Task next, CancellationToken stoppingToken)
    {
        liveness?.Mark();
        var waitFrom = time.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            var left = options.ReconcileInterval - time.GetElapsedTime(waitFrom);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            var woke = await Task.WhenAny(next, Task.Delay(liveness?.Bound(left) ?? left, time, stoppingToken));
            liveness?.Mark();
            if (woke == next)
            {
                return;
            }
        }
    }

    /// <summary>One full pass, waiting for every drive it started (and any already running) to finish.</summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await LaunchAsync(cancellationToken);
        await Task.WhenAll(_drives.Values);
    }

    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }

    /// <summary>Starts a drive for every workspace that is wanted or present and has none running.</summary>
    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        if (desired.Latest is not { } set)
        {
            return;
        }

        var passStarted = time.GetTimestamp();
        var held = inventory.Refresh();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var running = new List<Workspace>();
        foreach (var spec in set.Workspaces)
        {
            try
            {
                var workspace = Workspace.FromWire(spec);
                wanted.Add(workspace.Id);
                if (held.ContainsKey(workspace.Id))
                {
                    running.Add(workspace);
                }
            }
            catch (FormatException e)
            {
                reporter.Report(spec.Id, WorkspaceState.Failed, e.Message);
            }
        }

        await networks.RebuildOnceAsync(running, cancellationToken);
        var present = held.Keys.Concat(disks.List().Where(id => DomainNames.TryParse(DomainNames.For(id), out _)));
        foreach (var id in wanted.Concat(present).Distinct(StringComparer.Ordinal))
        {
            if (wanted.Contains(id) && operations.FailedAt(id, set.Version))
            {
                continue;
            }

            var drive = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_drives.TryAdd(id, drive.Task))
            {
                _ = DriveAsync(id, set.Version, drive, cancellationToken);
            }
        }

        metrics?.ReconcilePass.ObserveSince(time, passStarted);
        if (_drives.IsEmpty)
        {
            desired.AppliedVersion = set.Version;
        }
    }

    private async Task DriveAsync(string id, ulong version, TaskCompletionSource done, CancellationToken cancellationToken)
    {
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                using var busy = operations.Begin(id);
                var started = time.GetTimestamp();
                var (settled, steps) = await machine.DriveAsync(id, () => Wanted(id), cancellationToken);
                metrics?.WorkspaceDrive.ObserveSince(time, started);
                operations.ClearFailure(id);
                if (steps > 0)
                {
                    var milliseconds = time.GetElapsedTime(started).TotalMilliseconds;
                    var word = StateWord(settled.State);
                    LogSettled(logger, id, word, steps, milliseconds, settled.Message);
                }
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The agent is stopping: the step in progress is abandoned where its phase says, and resumed by the next agent.
        }
        catch (WorkspaceRefusedException e)
        {
            // Nothing was made: the scheduler places it elsewhere; this set's version is not tried again.
            operations.MarkFailed(id, version);
            LogRefused(logger, id, e.Message);
            reporter.Report(id, WorkspaceState.Refused, e.Message);
        }
        catch (Exception e) when (e is WorkspaceException or LibvirtException or FormatException or IOException or UnauthorizedAccessException)
        {
            Failed(id, version, e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // A fault of the agent's own, not of the workspace: logged with its stack, retried at the next pass.
            LogDriveCrashed(logger, e, id);
        }
        finally
        {
            _drives.TryRemove(id, out _);
            done.TrySetResult();
            if (desired.Latest is { } latest && latest.Version != version)
            {
                // The set changed while this drive ran: another pass applies the change to every workspace.
                desired.Wake();
            }
            else if (_drives.IsEmpty && desired.Latest is { } current)
            {
                desired.AppliedVersion = current.Version;
            }
        }
    }

    private void Failed(string id, ulong version, Exception e)
    {
        if (e is LibvirtException && hypervisor.Unavailable is not null)
        {
            // Not the workspace's fault: retried when libvirt is back (its reconnect wakes a pass).
            LogDeferred(logger, id, e.Message);
            return;
        }

        operations.MarkFailed(id, version);
        LogFailed(logger, id, e.Message);
        reporter.Report(id, WorkspaceState.Failed, e.Message);
    }

    private static string StateWord(WorkspaceState state) => state switch
    {
        WorkspaceState.Running => "running",
        WorkspaceState.Stopped => "stopped",
        WorkspaceState.Paused => "paused",
        WorkspaceState.Gone => "removed",
        _ => state.ToString(),
    };

    /// <summary>
    /// The workspace as the latest desired set wants it, or null when it is not wanted; a lease the scheduler has not
    /// ended a margin after its end is ended here (<see cref="LocalExpiry"/>).
    /// </summary>
    private Workspace? Wanted(string id)
    {
        var spec = desired.Latest?.Workspaces.FirstOrDefault(w => w.Id == id);
        if (spec is null)
        {
            return null;
        }

        var (workspace, stage) = _expiry.Apply(Workspace.FromWire(spec), time.GetUtcNow());
        if (stage != LocalExpiryStage.None && _expiryLogged.GetValueOrDefault(id) != stage)
        {
            _expiryLogged[id] = stage;
            LogLocalExpiry(logger, id, stage == LocalExpiryStage.Removed ? "removing it" : "shutting its guest down", options.ExpiryMargin.TotalSeconds);
        }

        return workspace;
    }

    [LoggerMessage(EventId = 417, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string workspaceId, string reason);

    [LoggerMessage(EventId = 416, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId}: its lease ended and the scheduler has not ended it {Seconds:0} s later (is it reachable?); {Action} here")]
    private static partial void LogLocalExpiry(ILogger logger, string workspaceId, string action, double seconds);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string workspaceId, string reason);

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Workspace {WorkspaceId} {State} ({Steps} steps in {Milliseconds:0} ms) {Message}")]
    private static partial void LogSettled(ILogger logger, string workspaceId, string state, int steps, double milliseconds, string message);

    [LoggerMessage(EventId = 413, Level = LogLevel.Error, Message = "Reconciling workspaces failed; retrying at the next change or the next periodic reconcile")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 415, Level = LogLevel.Error, Message = "Driving workspace {WorkspaceId} failed unexpectedly; retrying at the next change or periodic reconcile")]
    private static partial void LogDriveCrashed(ILogger logger, Exception exception, string workspaceId);

    [LoggerMessage(EventId = 414, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId}: libvirt is unavailable ({Reason}); retrying when it is back")]
    private static partial void LogDeferred(ILogger logger, string workspaceId, string reason);
}
