namespace NodeAgent.Agent.Reporting;

/// <summary>
/// Exponential backoff with full jitter: after the n-th failure wait a random time up to min(max, base·2ⁿ),
/// so many agents that lost the scheduler at once do not all come back in the same instant.
/// </summary>
public sealed class Backoff(Random random, TimeSpan initial, TimeSpan maximum)
{
    private int _failures;

    public TimeSpan Next()
    {
        var ceiling = Math.Min(maximum.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(_failures, 30)));
        _failures++;
        return TimeSpan.FromMilliseconds(initial.TotalMilliseconds / 2 + random.NextDouble() * (ceiling - initial.TotalMilliseconds / 2));
    }

    public void Reset() => _failures = 0;
}
