using System.Collections;

namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// Candidates made by position when read: placement samples 64 of 10,000 hosts, so it makes the candidates it
/// examines, not all of them, and reads nothing of the others. Prefetch hints go on to where the candidates are kept.
/// </summary>
/// <param name="keptIn">Where <paramref name="make"/> finds kept candidates; null: nowhere worth prefetching from.</param>
public sealed class LazyCandidates(int count, Func<int, PlacementCandidate> make, ICandidatePrefetch? keptIn = null)
    : IReadOnlyList<PlacementCandidate>, ICandidatePrefetch
{
    public int Count => count;

    public PlacementCandidate this[int index] => (uint)index < (uint)count ? make(index) : throw new ArgumentOutOfRangeException(nameof(index));

    public void PrefetchCell(int index) => keptIn?.PrefetchCell(index);

    public void PrefetchCandidate(int index) => keptIn?.PrefetchCandidate(index);

    public IEnumerator<PlacementCandidate> GetEnumerator()
    {
        for (var i = 0; i < count; i++)
        {
            yield return make(i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Candidates kept where placement can have the CPU start reading one before examining it. At 10,000 hosts the 64
/// hosts a decision samples are spread over more memory than the CPU's caches hold: each examined host waited on a
/// cache miss for the array element its candidate is kept in, and another for the candidate. With the examination
/// order drawn a few hosts ahead (<see cref="ExaminationOrder"/>), those reads overlap the work on the hosts before.
/// A hint only ever costs time: it changes nothing placement reads.
/// </summary>
public interface ICandidatePrefetch
{
    /// <summary>Starts reading the cell (array element) the candidate at <paramref name="index"/> is kept in, without waiting for it.</summary>
    void PrefetchCell(int index);

    /// <summary>Starts reading the candidate at <paramref name="index"/> (if one is kept), without waiting for it; its cell was asked for before.</summary>
    void PrefetchCandidate(int index);
}
