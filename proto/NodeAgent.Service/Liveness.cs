namespace NodeAgent.Service;

/// <summary>
/// Whether a daemon's main loop still makes progress, for systemd's watchdog. The loop calls <see cref="Mark"/> at
/// every pass and at every wake-up, and never waits longer than <see cref="Bound"/> allows without waking;
/// <see cref="WatchdogPinger"/> tells systemd the service is alive only while the last mark is younger than the
/// watchdog interval. So a loop stuck in a call that never returns stops the pings, and systemd restarts the service.
/// </summary>
public sealed class Liveness
{
    private readonly TimeProvider _time;
    private long _lastMark;

    /// <param name="watchdog">systemd's watchdog interval (WatchdogSec, from $WATCHDOG_USEC); null when there is no watchdog.</param>
    public Liveness(TimeProvider time, TimeSpan? watchdog = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (watchdog is { } w && w <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(watchdog), w, "the watchdog interval must be positive");
        }

        _time = time;
        Watchdog = watchdog;
        _lastMark = time.GetTimestamp();
    }

    /// <summary>systemd's watchdog interval; null when none is configured.</summary>
    public TimeSpan? Watchdog { get; }

    /// <summary>How long ago the loop last marked progress.</summary>
    public TimeSpan SinceLastMark => _time.GetElapsedTime(Volatile.Read(ref _lastMark));

    /// <summary>True while the last mark is younger than the watchdog interval (always, without a watchdog).</summary>
    public bool IsAlive => Watchdog is not { } w || SinceLastMark < w;

    /// <summary>The loop made progress (finished a pass, or woke up as it should).</summary>
    public void Mark() => Volatile.Write(ref _lastMark, _time.GetTimestamp());

    /// <summary>
    /// The longest a loop may wait before waking to mark: <paramref name="wait"/>, cut to a quarter of the watchdog
    /// interval. A quarter, not a half: the pinger checks every half interval, and a mark a little late (a busy
    /// host, a slow timer) must still find the last one younger than a whole interval.
    /// </summary>
    public TimeSpan Bound(TimeSpan wait) => Watchdog is { } w && (wait > w / 4 || wait == Timeout.InfiniteTimeSpan) ? w / 4 : wait;
}
