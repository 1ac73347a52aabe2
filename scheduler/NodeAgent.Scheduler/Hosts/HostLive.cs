using System.Collections.Frozen;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>
/// What the scheduler knows of a host only from its heartbeats since it started, in memory: its smoothed load, the
/// images it has cached, and when a heartbeat of it was last written to the database. Kept beside the host's row in
/// <see cref="Store.HostCache"/>. Each is replaced whole, by one reference write, so a reader never sees half of one.
/// </summary>
/// <param name="changed">Called after the load or the images changed (the cache drops the host as placement saw it).</param>
public sealed class HostLive(Action? changed = null)
{
    private readonly Lock _gate = new();
    private LoadAverage? _load;
    private IReadOnlySet<string> _cachedImages = FrozenSet<string>.Empty;
    private long _recordedAtTicks = long.MinValue;

    /// <summary>The smoothed CPU utilization and memory pressure over the host's heartbeats; null before the first.</summary>
    public LoadAverage? Load => Volatile.Read(ref _load);

    /// <summary>The digests of the images cached on the host, as its latest heartbeat listed them.</summary>
    public IReadOnlySet<string> CachedImages
    {
        get => Volatile.Read(ref _cachedImages);
        set
        {
            Volatile.Write(ref _cachedImages, value);
            changed?.Invoke();
        }
    }

    /// <summary>When a heartbeat of the host was last written to the database by this scheduler; null before the first.</summary>
    public DateTimeOffset? RecordedAt
    {
        get => Interlocked.Read(ref _recordedAtTicks) is var ticks and not long.MinValue ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
        set => Interlocked.Exchange(ref _recordedAtTicks, value?.UtcTicks ?? long.MinValue);
    }

    /// <summary>Adds a heartbeat's sample to the load average (the first one starts it, with <paramref name="halfLife"/>).</summary>
    public void Observe(TimeSpan halfLife, DateTimeOffset at, HostLoad load, Resources capacity)
    {
        lock (_gate)
        {
            Volatile.Write(ref _load, (_load ?? new LoadAverage(halfLife)).Observe(at, load, capacity));
        }

        changed?.Invoke();
    }
}
