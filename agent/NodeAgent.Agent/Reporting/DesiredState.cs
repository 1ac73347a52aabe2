using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Reporting;

/// <summary>
/// The latest desired set received from the scheduler. Level-triggered: only the newest version matters,
/// so a slow consumer skips intermediate versions instead of queueing them.
/// </summary>
public sealed class DesiredState
{
    private readonly Lock _lock = new();
    private DesiredWorkspaces? _latest;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DesiredWorkspaces? Latest
    {
        get
        {
            lock (_lock)
            {
                return _latest;
            }
        }
    }

    /// <summary>The version the reconciler has applied last; reported in heartbeats.</summary>
    public ulong AppliedVersion { get; set; }

    public void Publish(DesiredWorkspaces desired)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _latest = desired;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Publish"/>.</summary>
    public Task NextChange()
    {
        lock (_lock)
        {
            return _changed.Task;
        }
    }
}
