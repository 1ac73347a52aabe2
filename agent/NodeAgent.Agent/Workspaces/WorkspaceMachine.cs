using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Drives one workspace to what is wanted of it: observes it, asks <see cref="WorkspaceSteps.Decide"/> for
/// the next step, runs that step, and repeats until the workspace settles. Tells the scheduler what it is
/// doing as it goes, and where the workspace settled. Every finished step is a failpoint named after it.
/// </summary>
public sealed partial class WorkspaceMachine(
    IHypervisor hypervisor,
    WorkspaceLifecycle lifecycle,
    WorkspaceSaver saver,
    DiskManager disks,
    StatusReporter reporter,
    IFailpoints failpoints,
    Metering.IUsageCheckpoint usage,
    Partitions.IWorkspacePartitions partitions,
    HostFacts.HostDescription host,
    AgentOptions options,
    TimeProvider time,
    ILogger<WorkspaceMachine> logger,
    WorkspaceFit? fit = null,
    NodeAgent.Service.Reloadable<AgentOptions>? settings = null)
{
    // The stop timeout in force: a reload may change it, also for a guest already shutting down (its deadline counts from when the shutdown began).
    private TimeSpan StopTimeout => (settings?.Current ?? options).StopTimeout;

    // Enough for the longest path (stopped → starting → running → reboot-stopping → … → running) with room to spare.
    private const int MaxSteps = 16;

    private static readonly TimeSpan ShutdownPoll = TimeSpan.FromMilliseconds(200);

    public Observed Observe(string workspaceId)
    {
        var name = DomainNames.For(workspaceId);
        var domain = hypervisor.FindDomain(name);
        WorkspaceMetadata? metadata = null;
        if (domain is not null)
        {
            try
            {
                metadata = WorkspaceMetadata.Parse(hypervisor.GetMetadata(name, WorkspaceMetadata.Namespace));
            }
            catch (LibvirtException e) when (e.IsNoDomain)
            {
                domain = null;
            }
        }

        var other = metadata is { Host.Length: > 0 } && metadata.Host != host.Id.Value ? metadata.Host : null;
        return new Observed(domain, metadata, disks.Exists(workspaceId), disks.WasDefined(workspaceId), other);
    }

    /// <summary>
    /// Runs steps until the workspace settles, and returns where it settled and after how many steps. <paramref name="wanted"/> is asked
    /// again before every step, so a change of mind (a stop while it starts) is acted on at the next step.
    /// </summary>
    /// <exception cref="WorkspaceException">Provisioning failed (and was cleaned up), or a step failed.</exception>
    public async Task<(Settled Settled, int Steps)> DriveAsync(string workspaceId, Func<Workspace?> wanted, CancellationToken cancellationToken)
    {
        for (var i = 0; i < MaxSteps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var want = wanted();
            var observed = Observe(workspaceId);
            var step = WorkspaceSteps.Decide(want, observed, time.GetUtcNow(), StopTimeout);
            var reboots = observed.Metadata?.Reboots;
            if (step is Settled settled)
            {
                var measured = settled.State == WorkspaceState.Gone ? null : disks.Measure(workspaceId);
                reporter.Report(workspaceId, settled.State, settled.Message, reboots, observed.Metadata?.Save, measured);
                return (settled, i);
            }

            if (step.Progress is { } progress)
            {
                reporter.Report(workspaceId, progress, string.Empty, reboots);
            }

            LogStep(logger, workspaceId, step.Name, observed.Metadata?.Phase, observed.Domain?.State);
            await RunAsync(workspaceId, want, step, cancellationToken);
            failpoints.Reached(workspaceId, step.Name);
        }

        throw new WorkspaceException($"workspace {workspaceId} did not settle after {MaxSteps} steps; the agent retries at its next reconcile, and its log lists the steps taken");
    }

    private async Task RunAsync(string workspaceId, Workspace? wanted, WorkspaceStep step, CancellationToken cancellationToken)
    {
        var name = DomainNames.For(workspaceId);
        switch (step)
        {
            case Provision:
                var workspace = wanted ?? throw new InvalidOperationException("provisioning needs the wanted workspace");
                if (fit?.Refusal(workspace) is { } refusal)
                {
                    throw new WorkspaceRefusedException(refusal);
                }

                await lifecycle.ProvisionAsync(workspace, new WorkspaceMetadata(workspace.Id, workspace.Owner, workspace.Image, workspace.ExpiresAt,
                    WorkspacePhase.Starting, time.GetUtcNow(), workspace.RebootCount, Host: host.Id.Value),
                    message => reporter.Report(workspaceId, WorkspaceState.Preparing, message), cancellationToken);
                break;
            case Start:
                PreparePartition(workspaceId, wanted);
                hypervisor.Start(name);
                break;
            case Shutdown shutdown:
                await ShutDownAsync(workspaceId, name, shutdown.Deadline, cancellationToken);
                break;
            case PowerOff:
                usage.BeforePowerOff(workspaceId);
                hypervisor.Destroy(name);
                break;
            case Pause:
                hypervisor.Pause(name);
                break;
            case Unpause:
                hypervisor.Unpause(name);
                break;
            case RecordPhase record:
                hypervisor.SetMetadata(name, WorkspaceMetadata.Namespace, WorkspaceMetadata.Prefix, record.Next.ToElement());
                break;
            case SaveDisk save:
                var outcome = await saver.SaveAsync(workspaceId, save.Save, cancellationToken);
                var current = WorkspaceMetadata.Parse(hypervisor.GetMetadata(name, WorkspaceMetadata.Namespace))
                    ?? throw new WorkspaceException($"workspace {workspaceId} lost its NodeAgent metadata while it was saved");
                hypervisor.SetMetadata(name, WorkspaceMetadata.Namespace, WorkspaceMetadata.Prefix, (current with { Save = outcome }).ToElement());
                break;
            case Cleanup:
                await lifecycle.RemoveAsync(workspaceId, cancellationToken);
                break;
            default:
                throw new InvalidOperationException($"no way to run step {step.Name}");
        }
    }

    /// <summary>libvirt needs the project's partition before every start, and removes it again when a start fails.</summary>
    private void PreparePartition(string workspaceId, Workspace? wanted)
    {
        try
        {
            partitions.Prepare(wanted?.Owner ?? string.Empty);
        }
        catch (Partitions.CgroupPartitionException e)
        {
            throw new WorkspaceException($"workspace {workspaceId} cannot start: its project's cgroup partition: {e.Message}", e);
        }
    }

    /// <summary>
    /// Asks the guest to power off and waits for it until the deadline, then powers it off. The deadline was
    /// fixed when the stop began and persisted, so an agent restarted in the middle waits only what remains.
    /// </summary>
    private async Task ShutDownAsync(string workspaceId, string name, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() < deadline)
        {
            usage.BeforePowerOff(workspaceId);
            hypervisor.Shutdown(name);
            failpoints.Reached(workspaceId, "acpi-shutdown");
            while (hypervisor.FindDomain(name) is { State: not (DomainState.Shutoff or DomainState.Crashed) })
            {
                // Read once: the deadline may pass between two readings, and a negative delay is an error.
                var left = deadline - time.GetUtcNow();
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                await Task.Delay(left < ShutdownPoll ? left : ShutdownPoll, time, cancellationToken);
            }
        }

        if (hypervisor.FindDomain(name) is { State: not (DomainState.Shutoff or DomainState.Crashed) })
        {
            LogPoweredOff(logger, workspaceId, StopTimeout.TotalSeconds);
            usage.BeforePowerOff(workspaceId);
            hypervisor.Destroy(name);
        }
    }

    [LoggerMessage(EventId = 430, Level = LogLevel.Debug, Message = "Workspace {WorkspaceId}: {Step} (phase {Phase}, domain {DomainState})")]
    private static partial void LogStep(ILogger logger, string workspaceId, string step, WorkspacePhase? phase, DomainState? domainState);

    [LoggerMessage(EventId = 431, Level = LogLevel.Information, Message = "Workspace {WorkspaceId} did not shut down within the stop timeout ({Seconds:0} s); powering it off")]
    private static partial void LogPoweredOff(ILogger logger, string workspaceId, double seconds);
}
