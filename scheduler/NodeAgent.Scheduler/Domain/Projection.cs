using System.Collections;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// A list whose items are made from another list's when read: placement samples 64 of 10,000 hosts, so it makes
/// the candidates it examines, not all of them.
/// </summary>
/// <remarks>The projection is given each item's position too, for what is kept beside the list by position.</remarks>
public sealed class Projection<TSource, TResult>(IReadOnlyList<TSource> source, Func<TSource, int, TResult> project) : IReadOnlyList<TResult>
{
    public int Count => source.Count;

    public TResult this[int index] => project(source[index], index);

    public IEnumerator<TResult> GetEnumerator()
    {
        for (var i = 0; i < source.Count; i++)
        {
            yield return project(source[i], i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
