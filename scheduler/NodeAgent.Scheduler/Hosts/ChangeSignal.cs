using System.Collections.Concurrent;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>
/// Wakes watchers of a key when something about it changes. A watcher takes its wait task before it
/// reads the state it sends, so a change between the read and the wait is never missed.
/// </summary>
public sealed class ChangeSignal<TKey>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TaskCompletionSource> _waiters = new();

    /// <summary>A task that completes at the next <see cref="Notify"/> for <paramref name="key"/>.</summary>
    public Task NextChange(TKey key) =>
        _waiters.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Notify(TKey key)
    {
        if (_waiters.TryRemove(key, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
