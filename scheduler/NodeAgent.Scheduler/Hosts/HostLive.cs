using System.Collections.Frozen;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>
/// What the scheduler knows of a host only from its heartbeats since it started, in memory: its smoothed load, the
/// images it has cached, and when a heartbeat of it was last written to the database; and the host as placement last
/// saw it (<see cref="Candidate"/>). Kept beside the host's row in <see cref="Store.HostCache"/>. Each is replaced
/// whole, by one reference write, so a reader never sees half of one.
/// </summary>
public sealed class HostLive
{
    private readonly Lock _gate = new();
    private LoadAverage? _load;
    private IReadOnlySet<string> _cachedImages = FrozenSet<string>.Empty;
    private long _recordedAtTicks = long.MinValue;
    private PlacementCandidate? _candidate;
    private long _changes;

    /// <summary>The smoothed CPU utilization and memory pressure over the host's heartbeats; null before the first.</summary>
    public LoadAverage? Load => Volatile.Read(ref _load);

    /// <summary>The digests of the images cached on the host, as its latest heartbeat listed them.</summary>
    public IReadOnlySet<string> CachedImages
    {
        get => Volatile.Read(ref _cachedImages);
        set
        {
            lock (_gate)
            {
                Volatile.Write(ref _cachedImages, value);
                Forget();
            }
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
            Forget();
        }
    }

    /// <summary>
    /// The host as placement sees it, with <paramref name="health"/>: the candidate made for <paramref name="host"/>
    /// and this load and these images when there is one, else <paramref name="make"/>'s, kept for the next placement.
    /// A heartbeat replaces the host's row and its load, so a kept candidate lasts a heartbeat interval at most, and
    /// one made while a heartbeat changed the load is not kept.
    /// </summary>
    public PlacementCandidate Candidate(HostRecord host, HostHealth health, Func<HostRecord, HostLive, HostHealth, PlacementCandidate> make)
    {
        var made = Volatile.Read(ref _candidate);
        if (made is null || !ReferenceEquals(made.Host, host))
        {
            var changes = Volatile.Read(ref _changes);
            made = make(host, this, health);
            lock (_gate)
            {
                if (_changes == changes)
                {
                    _candidate = made;
                }
            }
        }

        return made.Health == health ? made : made with { Health = health };
    }

    /// <summary>Drops the kept candidate: the load or the images changed. Call under the lock.</summary>
    private void Forget()
    {
        Volatile.Write(ref _changes, _changes + 1);
        Volatile.Write(ref _candidate, null);
    }
}
