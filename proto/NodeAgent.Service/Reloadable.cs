namespace NodeAgent.Service;

/// <summary>
/// A setting a reload replaces as a whole while the daemon runs (e.g. the agent's options with new labels and
/// capacity policy). Readers take <see cref="Current"/> each time they use it, never keep it.
/// </summary>
public sealed class Reloadable<T>(T initial)
    where T : class
{
    private T _current = initial;

    public T Current => Volatile.Read(ref _current);

    /// <summary>Replaces the value; readers see the new one from their next read on.</summary>
    public void Set(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Volatile.Write(ref _current, value);
    }
}
