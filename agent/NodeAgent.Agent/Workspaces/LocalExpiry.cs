namespace NodeAgent.Agent.Workspaces;

/// <summary>What local expiry did to a wanted workspace.</summary>
public enum LocalExpiryStage
{
    None,

    /// <summary>Its lease ended: the guest is shut down (gracefully, as the scheduler would have asked).</summary>
    Stopped,

    /// <summary>Its grace is over too: the workspace is removed.</summary>
    Removed,
}

/// <summary>
/// The agent enforces a lease's end itself when the scheduler has not: at its end (<see cref="Workspace.ExpiresAt"/>)
/// plus <see cref="Margin"/> the guest is shut down, and at its destruction time (<see cref="Workspace.DestroyAt"/>)
/// plus the margin the workspace is removed. A scheduler it can reach acts first (it does at the end itself), so
/// this matters when the host is cut off from the scheduler: a partition never keeps an expired workspace alive.
/// The margin covers the two clocks' difference and the scheduler's own delay.
/// </summary>
public sealed record LocalExpiry(TimeSpan Margin)
{
    public static readonly LocalExpiry Default = new(TimeSpan.FromMinutes(2));

    /// <summary>The workspace as it should be now: as wanted, stopped, or null (removed).</summary>
    public (Workspace? Workspace, LocalExpiryStage Stage) Apply(Workspace wanted, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        if (Past(wanted.DestroyAt, now))
        {
            return (null, LocalExpiryStage.Removed);
        }

        return Past(wanted.ExpiresAt, now) && wanted.Power != DesiredPower.Stopped
            ? (wanted with { Power = DesiredPower.Stopped }, LocalExpiryStage.Stopped)
            : (wanted, LocalExpiryStage.None);
    }

    // at + Margin <= now, without overflowing for "never" (MaxValue).
    private bool Past(DateTimeOffset at, DateTimeOffset now) => at <= now - Margin;
}
