using System.Collections;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// A list whose items are made by position when read: placement samples 64 of 10,000 hosts, so it makes the
/// candidates it examines, not all of them, and reads nothing of the others.
/// </summary>
public sealed class Projection<TResult>(int count, Func<int, TResult> project) : IReadOnlyList<TResult>
{
    public int Count => count;

    public TResult this[int index] => (uint)index < (uint)count ? project(index) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<TResult> GetEnumerator()
    {
        for (var i = 0; i < count; i++)
        {
            yield return project(i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
