using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>The per-host moving average of measured load: time-weighted, robust to late and bad samples.</summary>
public sealed class LoadAverageTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly TimeSpan HalfLife = TimeSpan.FromSeconds(60);

    [Fact]
    public void Observe_FirstSample_IsTakenAsItIs()
    {
        var average = new LoadAverage(HalfLife).Observe(T0, 0.8, 0.3);

        Assert.Equal(0.8, average.Cpu);
        Assert.Equal(0.3, average.MemoryPressure);
        Assert.Equal(T0, average.LastSampleAt);
    }

    [Theory]
    [InlineData(60, 0.5)]
    [InlineData(120, 0.75)]
    [InlineData(30, 0.29289321881)]
    public void Observe_SampleLater_MovesTowardItByTheElapsedHalfLives(int seconds, double share)
    {
        var average = new LoadAverage(HalfLife).Observe(T0, 0, 1).Observe(T0.AddSeconds(seconds), 1, 0);

        Assert.Equal(share, average.Cpu, 9);
        Assert.Equal(1 - share, average.MemoryPressure, 9);
    }

    [Fact]
    public void Observe_ManyShortSamples_SameAsOneSampleOverTheSameTime()
    {
        var stepwise = new LoadAverage(HalfLife).Observe(T0, 0, 0);
        for (var s = 5; s <= 60; s += 5)
        {
            stepwise = stepwise.Observe(T0.AddSeconds(s), 1, 1);
        }

        var once = new LoadAverage(HalfLife).Observe(T0, 0, 0).Observe(T0.AddSeconds(60), 1, 1);

        Assert.Equal(once.Cpu, stepwise.Cpu, 9);
    }

    [Fact]
    public void Observe_LateOrRepeatedOrNotANumber_LeavesTheAverage()
    {
        var average = new LoadAverage(HalfLife).Observe(T0, 0.4, 0.4);

        Assert.Same(average, average.Observe(T0.AddSeconds(-5), 1, 1));
        Assert.Same(average, average.Observe(T0, 1, 1));
        Assert.Same(average, average.Observe(T0.AddSeconds(5), double.NaN, 1));
        Assert.Same(average, average.Observe(T0.AddSeconds(5), 1, double.PositiveInfinity));
    }

    [Fact]
    public void Observe_OutOfRange_CountsAsTheBound()
    {
        var average = new LoadAverage(HalfLife).Observe(T0, 1.6, -0.2);

        Assert.Equal(1, average.Cpu);
        Assert.Equal(0, average.MemoryPressure);
    }

    [Fact]
    public void Observe_Heartbeat_MemoryPressureAgainstCapacity()
    {
        var load = new HostLoad(0.25, 12L << 30, 0, 0, Resources.None);

        var average = new LoadAverage(HalfLife).Observe(T0, load, new Resources(8, 16L << 30, 0));

        Assert.Equal(0.25, average.Cpu);
        Assert.Equal(0.25, average.MemoryPressure, 9);
    }

    [Fact]
    public void LoadAverage_HalfLifeNotPositive_RefusedNamingAnExample()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LoadAverage(TimeSpan.Zero));

        Assert.Contains("00:01:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MeasuredLoadRanker_CandidateWithAverage_ScoresTheAverageNotTheLastSpike()
    {
        var average = new LoadAverage(HalfLife);
        for (var s = 0; s < 600; s += 5)
        {
            average = average.Observe(T0.AddSeconds(s), 0.1, 0.1);
        }

        average = average.Observe(T0.AddSeconds(600), 1.0, 0.1);
        var spiking = PlacementHosts.Host("h1", cpu: 1.0) with { CpuLoad = average.Cpu, MemoryPressure = average.MemoryPressure };
        var steady = PlacementHosts.Host("h2", cpu: 0.5) with { CpuLoad = 0.5, MemoryPressure = 0.1 };

        var decision = PlacementHosts.Only(new MeasuredLoadRanker()).Decide([steady, spiking], PlacementHosts.Request());

        Assert.True(average.Cpu < 0.2, $"one 5-second spike moved the average to {average.Cpu}");
        Assert.Equal("h1", decision.Host?.Value);
    }
}
