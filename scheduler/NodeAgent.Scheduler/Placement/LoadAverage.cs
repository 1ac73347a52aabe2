using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// A host's smoothed real load: exponentially weighted moving averages of CPU utilization and memory pressure,
/// each from 0 to 1, fed by heartbeat samples. A sample's weight depends on the time since the previous one (a
/// sample one half-life later moves the average halfway to it), so irregular heartbeats weigh what they cover.
/// Immutable: <see cref="Observe(DateTimeOffset, double, double)"/> returns the next average; the caller keeps one per host.
/// </summary>
public sealed record LoadAverage
{
    /// <summary>The half-life when the operator sets none: long enough that one busy minute does not empty a host of placements.</summary>
    public static readonly TimeSpan DefaultHalfLife = TimeSpan.FromMinutes(1);

    /// <param name="halfLife">How long until a sample's weight has halved; must be positive.</param>
    public LoadAverage(TimeSpan halfLife)
    {
        if (halfLife <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(halfLife), halfLife,
                "the load average's half-life must be positive, e.g. 00:01:00 for one minute");
        }

        HalfLife = halfLife;
    }

    public TimeSpan HalfLife { get; }

    /// <summary>The averaged CPU utilization, 0 to 1; 0 before the first sample.</summary>
    public double Cpu { get; private init; }

    /// <summary>The averaged memory pressure (1 - available / capacity), 0 to 1; 0 before the first sample.</summary>
    public double MemoryPressure { get; private init; }

    /// <summary>When the last sample taken into the average was measured; null before the first.</summary>
    public DateTimeOffset? LastSampleAt { get; private init; }

    /// <summary>
    /// The average with one more sample. The first sample is taken as it is. A sample not newer than the last one
    /// (a late or repeated heartbeat) or with a value that is not a number leaves the average as it was; values
    /// outside 0..1 count as the nearest bound.
    /// </summary>
    public LoadAverage Observe(DateTimeOffset at, double cpuUtilization, double memoryPressure)
    {
        if (!double.IsFinite(cpuUtilization) || !double.IsFinite(memoryPressure))
        {
            return this;
        }

        var cpu = Clamp01(cpuUtilization);
        var memory = Clamp01(memoryPressure);
        if (LastSampleAt is not { } last)
        {
            return this with { Cpu = cpu, MemoryPressure = memory, LastSampleAt = at };
        }

        if (at <= last)
        {
            return this;
        }

        var keep = Math.Pow(2, -(at - last) / HalfLife);
        return this with
        {
            Cpu = (keep * Cpu) + ((1 - keep) * cpu),
            MemoryPressure = (keep * MemoryPressure) + ((1 - keep) * memory),
            LastSampleAt = at,
        };
    }

    /// <summary>The average with a heartbeat's load; the memory pressure is measured against the host's capacity.</summary>
    public LoadAverage Observe(DateTimeOffset at, HostLoad load, Resources capacity) =>
        Observe(at, load.CpuUtilization, PressureOf(load.MemoryAvailableBytes, capacity.MemoryBytes));

    /// <summary>1 - available / capacity, from 0 to 1; 1 when the capacity is unknown (nothing shows room).</summary>
    public static double PressureOf(long availableBytes, long capacityBytes) =>
        capacityBytes <= 0 ? 1 : Clamp01(1 - ((double)availableBytes / capacityBytes));

    /// <summary><paramref name="value"/> limited to 0..1; not-a-number counts as 0.</summary>
    public static double Clamp01(double value) => double.IsNaN(value) ? 0 : Math.Clamp(value, 0, 1);
}
