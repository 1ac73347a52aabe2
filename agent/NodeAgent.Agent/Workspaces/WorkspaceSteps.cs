using NodeAgent.Agent.Hypervisor;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>What the agent sees of one workspace on its host right now.</summary>
/// <param name="Domain">Its libvirt domain, or null when there is none.</param>
/// <param name="Metadata">The phase and identity persisted in the domain; null without a domain or for a domain that has none.</param>
/// <param name="HasFiles">Its directory (disk, console log) exists.</param>
/// <param name="WasDefined">Its domain was defined once: a workspace with files and this mark but no domain lost its domain outside NodeAgent.</param>
/// <param name="OtherHost">The host whose agent made the domain, when it is not this one: then it is not this agent's to touch.</param>
public sealed record Observed(DomainInfo? Domain, WorkspaceMetadata? Metadata, bool HasFiles, bool WasDefined, string? OtherHost = null)
{
    /// <summary>Running, blocked, paused, shutting down or suspended by the guest: QEMU is there.</summary>
    public bool Active => Domain is { State: not (DomainState.Shutoff or DomainState.Crashed or DomainState.NoState) };
}

/// <summary>One step of a workspace's state machine. Each is idempotent: done twice, it has the effect of once.</summary>
public abstract record WorkspaceStep(string Name)
{
    /// <summary>What the scheduler is told while the step runs; null to say nothing until the machine settles.</summary>
    public virtual WorkspaceState? Progress => null;
}

/// <summary>Runs the prepare hooks (disk, then the domain's definition in phase Starting).</summary>
public sealed record Provision() : WorkspaceStep("provision")
{
    public override WorkspaceState? Progress => WorkspaceState.Preparing;
}

public sealed record Start() : WorkspaceStep("start")
{
    public override WorkspaceState? Progress => WorkspaceState.Starting;
}

/// <summary>Asks the guest to power off (ACPI) and waits for it until <paramref name="Deadline"/>, then powers it off.</summary>
public sealed record Shutdown(DateTimeOffset Deadline) : WorkspaceStep("shutdown")
{
    public override WorkspaceState? Progress => WorkspaceState.Stopping;
}

/// <summary>Powers the domain off at once.</summary>
public sealed record PowerOff() : WorkspaceStep("destroy")
{
    public override WorkspaceState? Progress => WorkspaceState.Stopping;
}

public sealed record Pause() : WorkspaceStep("pause");

public sealed record Unpause() : WorkspaceStep("unpause");

/// <summary>Persists the next phase in the domain before (write-ahead) or after the work it names.</summary>
public sealed record RecordPhase(WorkspaceMetadata Next) : WorkspaceStep("record:" + Next.Phase.ToString().ToLowerInvariant())
{
    public override WorkspaceState? Progress => Next.Phase switch
    {
        WorkspacePhase.Stopping or WorkspacePhase.RebootStopping or WorkspacePhase.Removing => WorkspaceState.Stopping,
        WorkspacePhase.Starting or WorkspacePhase.RebootStarting => WorkspaceState.Starting,
        _ => null,
    };
}

/// <summary>Runs the clean-up hooks in reverse order: undefines the (powered-off) domain, removes its files.</summary>
public sealed record Cleanup() : WorkspaceStep("cleanup")
{
    public override WorkspaceState? Progress => WorkspaceState.Stopping;
}

/// <summary>
/// Saves the shut-off workspace's root disk as <paramref name="Save"/> asks (flatten, digest, upload) and records
/// the outcome in the domain, failed or not; a save cut short by a crash is done again from the start.
/// </summary>
public sealed record SaveDisk(WorkspaceSave Save) : WorkspaceStep("save");

/// <summary>Nothing left to do: the workspace is where it should be, or can go no further; report this.</summary>
public sealed record Settled(WorkspaceState State, string Message = "") : WorkspaceStep("settled");

/// <summary>
/// The workspace state machine as one pure function: from what is wanted and what is observed, the next
/// step. The driver (<see cref="WorkspaceMachine"/>) runs the step, observes again and asks again, until
/// the answer is <see cref="Settled"/>. Since every decision is made from the observed state and the phase
/// persisted in the domain, an agent that crashed at any point decides the same way after its restart, and
/// the interrupted step resumes: a graceful stop keeps its original deadline, a removal is never forgotten,
/// a reboot happens exactly once.
/// </summary>
public static class WorkspaceSteps
{
    public static WorkspaceStep Decide(Workspace? wanted, Observed observed, DateTimeOffset now, TimeSpan stopTimeout)
    {
        if (observed.Domain is not { } domain)
        {
            return wanted is null ? (observed.HasFiles ? new Cleanup() : new Settled(WorkspaceState.Gone))
                : observed.WasDefined ? new Settled(WorkspaceState.Gone, "its domain was undefined outside NodeAgent; its files are kept until the lease ends")
                : new Provision();
        }

        if (observed.OtherHost is { } other)
        {
            return new Settled(WorkspaceState.Failed, $"libvirt already has a domain {domain.Name}, made by the agent of host {other}; it is left alone");
        }

        var current = observed.Metadata ?? Inferred(domain, wanted);
        if (wanted is null || current.Phase == WorkspacePhase.Removing)
        {
            return current.Phase != WorkspacePhase.Removing ? new RecordPhase(current with { Phase = WorkspacePhase.Removing, Since = now })
                : observed.Active ? new PowerOff()
                : new Cleanup();
        }

        var active = observed.Active;
        var paused = domain.State == DomainState.Paused;
        return current.Phase switch
        {
            WorkspacePhase.Starting => active
                ? new RecordPhase(current with { Phase = WorkspacePhase.Running, Since = now, Reboots = Math.Max(current.Reboots, wanted.RebootCount) })
                : new Start(),
            WorkspacePhase.Running => FromRunning(wanted, current, domain, active, paused, now),
            WorkspacePhase.Stopping or WorkspacePhase.RebootStopping when active => new Shutdown(current.Since + stopTimeout),
            WorkspacePhase.Stopping => new RecordPhase(current with { Phase = WorkspacePhase.Stopped, Since = now }),
            WorkspacePhase.RebootStopping => new RecordPhase(current with { Phase = WorkspacePhase.RebootStarting, Since = now }),
            WorkspacePhase.RebootStarting => active
                ? new RecordPhase(current with { Phase = WorkspacePhase.Running, Since = now, Reboots = current.RebootTarget })
                : new Start(),
            WorkspacePhase.Stopped => FromStopped(wanted, current, active, now),
            WorkspacePhase.Paused => FromPaused(wanted, current, domain, active, paused, now),
            _ => new Settled(WorkspaceState.Failed, $"unknown phase {current.Phase}"),
        };
    }

    private static WorkspaceStep FromRunning(Workspace wanted, WorkspaceMetadata current, DomainInfo domain, bool active, bool paused, DateTimeOffset now)
    {
        if (!active)
        {
            // It stopped without being asked: report it, never restart it behind its owner's back.
            return wanted.Power == DesiredPower.Stopped
                ? new RecordPhase(current with { Phase = WorkspacePhase.Stopped, Since = now })
                : new Settled(WorkspaceState.Stopped, ShutoffReason(domain.Reason));
        }

        if (wanted.Power == DesiredPower.Stopped)
        {
            return new RecordPhase(current with { Phase = WorkspacePhase.Stopping, Since = now });
        }

        if (wanted.RebootCount > current.Reboots && !paused)
        {
            return new RecordPhase(current with { Phase = WorkspacePhase.RebootStopping, Since = now, RebootTarget = wanted.RebootCount });
        }

        if (wanted.Power == DesiredPower.Paused)
        {
            return paused ? new RecordPhase(current with { Phase = WorkspacePhase.Paused, Since = now }) : new Pause();
        }

        return paused
            ? new Settled(WorkspaceState.Paused, $"paused outside NodeAgent (libvirt reason {domain.Reason}); `ws resume` resumes it")
            : new Settled(WorkspaceState.Running);
    }

    private static WorkspaceStep FromStopped(Workspace wanted, WorkspaceMetadata current, bool active, DateTimeOffset now) => wanted.Power switch
    {
        // A start also stands for any reboot asked for while it was stopped.
        DesiredPower.Running => new RecordPhase(current with { Phase = WorkspacePhase.Starting, Since = now, Reboots = Math.Max(current.Reboots, wanted.RebootCount) }),
        _ when active => new RecordPhase(current with { Phase = WorkspacePhase.Stopping, Since = now }),
        _ when wanted.Save is { } save && save.Generation > (current.Save?.Generation ?? 0) => new SaveDisk(save),
        _ => new Settled(WorkspaceState.Stopped, "stopped by its owner"),
    };

    private static WorkspaceStep FromPaused(Workspace wanted, WorkspaceMetadata current, DomainInfo domain, bool active, bool paused, DateTimeOffset now)
    {
        if (!active)
        {
            return wanted.Power == DesiredPower.Stopped
                ? new RecordPhase(current with { Phase = WorkspacePhase.Stopped, Since = now })
                : new Settled(WorkspaceState.Stopped, ShutoffReason(domain.Reason));
        }

        return wanted.Power switch
        {
            DesiredPower.Stopped => new RecordPhase(current with { Phase = WorkspacePhase.Stopping, Since = now }),
            DesiredPower.Running => paused ? new Unpause() : new RecordPhase(current with { Phase = WorkspacePhase.Running, Since = now }),
            _ => paused ? new Settled(WorkspaceState.Paused) : new Pause(),
        };
    }

    /// <summary>The phase of a domain that has no NodeAgent metadata (made before phases were recorded).</summary>
    private static WorkspaceMetadata Inferred(DomainInfo domain, Workspace? wanted)
    {
        var phase = domain.State == DomainState.Shutoff && domain.Reason == 0 ? WorkspacePhase.Starting : WorkspacePhase.Running;
        return new WorkspaceMetadata(wanted?.Id ?? string.Empty, wanted?.Owner ?? string.Empty, wanted?.Image ?? string.Empty,
            wanted?.ExpiresAt ?? DateTimeOffset.MaxValue, phase, DateTimeOffset.MinValue, wanted?.RebootCount ?? 0);
    }

    /// <summary>libvirt's virDomainShutoffReason in words.</summary>
    public static string ShutoffReason(int reason) => reason switch
    {
        1 => "the guest shut itself down",
        2 => "its domain was destroyed outside NodeAgent",
        3 => "the guest crashed",
        6 => "the host failed to run the guest",
        8 => "libvirt lost the guest while it was not running (daemon restart or host reboot)",
        _ => $"the guest is shut off (libvirt reason {reason})",
    };
}
