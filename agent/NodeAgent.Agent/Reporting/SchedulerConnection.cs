namespace NodeAgent.Agent.Reporting;

/// <summary>Where the agent's link to the scheduler stands.</summary>
public enum SchedulerLinkState
{
    /// <summary>The first registration has not been answered yet.</summary>
    Connecting,

    /// <summary>Registered; heartbeats and the desired-set stream run.</summary>
    Connected,

    /// <summary>The last registration or session failed; <see cref="SchedulerLink"/> retries with backoff.</summary>
    Unreachable,
}

/// <summary>
/// The state of the agent's link to the scheduler, as <see cref="SchedulerLink"/> reports it: for the status line
/// systemd shows, and for readiness, which waits for the first registration attempt to succeed or fail.
/// </summary>
public sealed class SchedulerConnection
{
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile SchedulerLinkState _state;
    private volatile string? _lastError;

    public SchedulerLinkState State => _state;

    /// <summary>Why the link failed last; null while connected.</summary>
    public string? LastError => _lastError;

    /// <summary>Completes when the first registration has succeeded or failed.</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    public void Registered()
    {
        _lastError = null;
        _state = SchedulerLinkState.Connected;
        _firstAttempt.TrySetResult();
    }

    public void Lost(string reason)
    {
        _lastError = reason;
        _state = SchedulerLinkState.Unreachable;
        _firstAttempt.TrySetResult();
    }
}
