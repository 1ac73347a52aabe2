namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// The order a decision examines candidates in: list order, or a random order drawn lazily (Fisher–Yates): only the
/// examined ones are drawn, and only the positions a draw displaced are remembered, so examining 64 of 10,000 hosts
/// costs 64 steps. A random order is drawn a few places ahead of the one examined, so that candidates that can be
/// prefetched (<see cref="ICandidatePrefetch"/>) are asked for before they are needed. Drawing ahead does not change
/// the order: a sample seed gives the same one with or without prefetching.
/// </summary>
internal sealed class ExaminationOrder
{
    /// <summary>How many places ahead of the one examined the cell a candidate is kept in (its array element) is asked for.</summary>
    internal const int CellAhead = 6;

    /// <summary>How many places ahead the candidate itself is asked for; its cell was asked for 4 places before.</summary>
    internal const int CandidateAhead = 2;

    private const int Mask = 7; // the places drawn ahead, up to CellAhead + 1, kept in a ring of 8

    private readonly int _count;
    private readonly Random? _random;
    private readonly ICandidatePrefetch? _prefetch;
    private readonly Dictionary<int, int> _displaced = [];
    private readonly int[] _ahead = new int[Mask + 1];
    private int _aheadStart;
    private int _aheadCount;
    private int _next;

    /// <param name="random">Null: list order, with no prefetching (every candidate is examined, in the order memory holds them).</param>
    public ExaminationOrder(int count, Random? random, ICandidatePrefetch? prefetch = null)
    {
        _count = count;
        _random = random;
        _prefetch = random is null ? null : prefetch;
    }

    /// <summary>The index of the next candidate to examine; null when every one was.</summary>
    public int? Next()
    {
        if (_prefetch is not null)
        {
            if (Ahead(CellAhead) is { } cell)
            {
                _prefetch.PrefetchCell(cell);
            }

            if (Ahead(CandidateAhead) is { } candidate)
            {
                _prefetch.PrefetchCandidate(candidate);
            }
        }

        if (_aheadCount == 0)
        {
            return Draw();
        }

        var next = _ahead[_aheadStart];
        _aheadStart = (_aheadStart + 1) & Mask;
        _aheadCount--;
        return next;
    }

    /// <summary>The index <paramref name="places"/> after the next one (0: the next), drawn now if it was not yet; null past the end.</summary>
    private int? Ahead(int places)
    {
        while (_aheadCount <= places)
        {
            if (Draw() is not { } drawn)
            {
                return null;
            }

            _ahead[(_aheadStart + _aheadCount++) & Mask] = drawn;
        }

        return _ahead[(_aheadStart + places) & Mask];
    }

    private int? Draw()
    {
        if (_next >= _count)
        {
            return null;
        }

        if (_random is null)
        {
            return _next++;
        }

        var pick = _random.Next(_next, _count);
        var drawn = _displaced.Remove(pick, out var moved) ? moved : pick;
        if (pick != _next)
        {
            _displaced[pick] = _displaced.Remove(_next, out var first) ? first : _next;
        }

        _next++;
        return drawn;
    }
}
