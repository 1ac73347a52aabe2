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
        lock (_lock)
        {
            _latest = desired;
        }

        Wake();
    }

    /// <summary>Wakes whoever waits for a change without a new set: the world changed under the agent (libvirt came back).</summary>
    public void Wake()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Publish"/> or <see cref="Wake"/>.</summary>
    public Task NextChange()
    {
        lock (_lock)
        {
            return _changed.Task;
        }
    }
}
