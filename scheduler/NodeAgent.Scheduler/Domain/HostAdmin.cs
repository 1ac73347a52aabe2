using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// Whether an operator lets the scheduler place new workspaces on a host, apart from its health. Only
/// <see cref="Enabled"/> hosts get new workspaces; in every state the workspaces already there keep running.
/// </summary>
public enum HostAdminState
{
    Enabled,

    /// <summary>Out of placement until enabled again.</summary>
    Disabled,

    /// <summary>Out of placement, waiting until no lease holds capacity on the host, at the latest until its deadline.</summary>
    Draining,

    /// <summary>A drain finished: no lease holds capacity on the host.</summary>
    Drained,

    /// <summary>The drain's deadline passed with leases still holding capacity; the reason names them.</summary>
    DrainFailed,
}

/// <summary>What an operator asks of a host's admin state.</summary>
public enum HostAdminAction
{
    Enable,
    Disable,
    Drain,
}

/// <summary>
/// A host's admin state: the state, the operator's reason (or why a drain failed), the drain's deadline (null
/// when the host was never drained since its last enable or disable), when the state began, and who changed it.
/// </summary>
public sealed record HostAdmin(HostAdminState State, string Reason, DateTimeOffset? DrainDeadline, DateTimeOffset Since, string ChangedBy)
{
    /// <summary>A host no operator has touched: enabled since the Unix epoch (the store says since its registration).</summary>
    public static readonly HostAdmin Default = new(HostAdminState.Enabled, string.Empty, null, DateTimeOffset.UnixEpoch, string.Empty);

    public bool AcceptsPlacements => State == HostAdminState.Enabled;
}

/// <summary>An admin action the host's state does not allow; the message names the state and what to do instead.</summary>
public sealed class HostAdminStateException(HostId hostId, HostAdminState state, string message) : Exception(message)
{
    public HostId HostId { get; } = hostId;

    public HostAdminState State { get; } = state;
}

/// <summary>
/// The admin lifecycle of a host. Enable and disable are allowed from any state; drain from enabled, disabled
/// and drain-failed (draining again with a new deadline). A draining host becomes drained once no lease holds
/// capacity on it (<see cref="Lease.CapacityHoldingStates"/>), or drain-failed when its deadline passes first.
/// Nothing here stops or moves a workspace: draining waits for leases to end. Every change goes through
/// <see cref="Apply"/> or <see cref="Progress"/>.
/// </summary>
public static class HostAdminStateMachine
{
    /// <summary>Who <see cref="HostAdmin.ChangedBy"/> names for the drain's own transitions.</summary>
    public const string SchedulerActor = "scheduler";

    /// <summary>How many lease ids a drain-failed reason names before it says how many more there are.</summary>
    public const int LeasesNamed = 5;

    public static bool CanApply(HostAdminState from, HostAdminAction action) => action switch
    {
        HostAdminAction.Enable or HostAdminAction.Disable => true,
        HostAdminAction.Drain => from is HostAdminState.Enabled or HostAdminState.Disabled or HostAdminState.DrainFailed,
        _ => false,
    };

    /// <summary>
    /// The admin state after an operator's action. An action that keeps the state (disabling a disabled host)
    /// keeps <see cref="HostAdmin.Since"/> and records the new reason and actor.
    /// </summary>
    /// <param name="deadline">The drain's deadline; required for <see cref="HostAdminAction.Drain"/>, ignored otherwise.</param>
    /// <exception cref="HostAdminStateException">The current state does not allow the action.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A drain without a deadline after <paramref name="now"/>.</exception>
    public static HostAdmin Apply(HostId host, HostAdmin current, HostAdminAction action, DateTimeOffset? deadline, string reason, string by, DateTimeOffset now)
    {
        if (!CanApply(current.State, action))
        {
            throw new HostAdminStateException(host, current.State, Refusal(host, current));
        }

        var state = action switch
        {
            HostAdminAction.Enable => HostAdminState.Enabled,
            HostAdminAction.Disable => HostAdminState.Disabled,
            _ => HostAdminState.Draining,
        };
        if (state == HostAdminState.Draining && (deadline is not { } due || due <= now))
        {
            throw new ArgumentOutOfRangeException(nameof(deadline), $"draining host {host} needs a deadline after now ({now:u}); give one such as 2h from now");
        }

        return new HostAdmin(state, reason, state == HostAdminState.Draining ? deadline : null, state == current.State ? current.Since : now, by);
    }

    /// <summary>
    /// A draining host's next state given the leases that hold capacity on it now: drained when there are none,
    /// drain-failed (naming them) once the deadline has come; null while the drain goes on, or when not draining.
    /// </summary>
    public static HostAdmin? Progress(HostAdmin current, IReadOnlyList<LeaseId> holding, DateTimeOffset now)
    {
        if (current.State != HostAdminState.Draining)
        {
            return null;
        }

        if (holding.Count == 0)
        {
            return current with { State = HostAdminState.Drained, Since = now, ChangedBy = SchedulerActor };
        }

        return current.DrainDeadline is { } deadline && now >= deadline
            ? current with { State = HostAdminState.DrainFailed, Reason = FailureReason(holding), Since = now, ChangedBy = SchedulerActor }
            : null;
    }

    /// <summary>"3 leases still hold capacity at the deadline: w-1, w-2, w-3; release them or drain again with a later deadline".</summary>
    public static string FailureReason(IReadOnlyList<LeaseId> holding)
    {
        var named = string.Join(", ", holding.Take(LeasesNamed).Select(l => l.Value));
        var more = holding.Count > LeasesNamed ? $" and {holding.Count - LeasesNamed} more" : string.Empty;
        return holding.Count == 1
            ? $"1 lease still holds capacity at the deadline: {named}; release it or drain again with a later deadline"
            : $"{holding.Count} leases still hold capacity at the deadline: {named}{more}; release them or drain again with a later deadline";
    }

    /// <summary>The state as people and the store name it: enabled, disabled, draining, drained, drain-failed.</summary>
    public static string Name(HostAdminState state) => state switch
    {
        HostAdminState.DrainFailed => "drain-failed",
        _ => state.ToString().ToLowerInvariant(),
    };

    private static string Refusal(HostId host, HostAdmin current) => current.State switch
    {
        HostAdminState.Draining =>
            $"host {host} is already draining until {current.DrainDeadline:u}; it becomes drained when its last lease ends. " +
            $"To change the deadline, run `ws hosts disable {host}`, then drain it again",
        HostAdminState.Drained =>
            $"host {host} is already drained: no lease holds capacity on it. `ws hosts enable {host}` puts it back into placement",
        _ => $"host {host} is {Name(current.State)} and cannot be drained",
    };
}
