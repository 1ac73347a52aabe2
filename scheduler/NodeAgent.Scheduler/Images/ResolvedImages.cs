using System.Collections.Concurrent;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The images new leases were resolved to lately, by name and version asked for (0: the newest active one), so that
/// a stream of leases of one image reads the catalogue once a second rather than once a lease. An entry is kept for
/// <see cref="Lifetime"/>; a change this scheduler makes to the catalogue forgets every entry at once, and one another
/// replica makes is seen within <see cref="Lifetime"/>. Only what resolved is kept: a name that is missing or retired
/// is read again every time, so its error stays exact.
/// </summary>
internal sealed class ResolvedImages(TimeProvider time)
{
    /// <summary>How long an entry is used before the catalogue is read again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string Name, uint Version), Entry> _entries = new();

    /// <summary>Counts the changes to the catalogue: a resolution read before one is not kept after it.</summary>
    private long _generation;

    /// <summary>The cached resolution, or <paramref name="resolve"/>'s, kept for the next lease. Each caller gets its own copy.</summary>
    public V1.ImageRef Get(string name, uint version, Func<V1.ImageRef> resolve)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue((name, version), out var entry) && now >= entry.ReadAt && now - entry.ReadAt < Lifetime)
        {
            return entry.Image.Clone();
        }

        var generation = Interlocked.Read(ref _generation);
        var image = resolve();
        _entries[(name, version)] = new Entry(image, now);
        if (Interlocked.Read(ref _generation) != generation)
        {
            // The catalogue changed while it was read: what was read may be from before the change.
            _entries.TryRemove((name, version), out _);
        }

        return image.Clone();
    }

    /// <summary>Forgets every entry; called once a change to the catalogue has been stored.</summary>
    public void Changed()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    private sealed record Entry(V1.ImageRef Image, DateTimeOffset ReadAt);
}
