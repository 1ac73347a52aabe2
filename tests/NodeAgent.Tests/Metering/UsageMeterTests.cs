using NodeAgent.Agent.Metering;

namespace NodeAgent.Tests.Metering;

/// <summary>Records are the difference of cumulative counters between samples.</summary>
public sealed class UsageMeterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static Dictionary<string, UsageBaseline> Baseline(string id, double cpu, ulong rx, int pid = 100, bool on = true) =>
        new() { [id] = new UsageBaseline(T0, on, pid, new UsageCounters(CpuSeconds: cpu, VcpuSeconds: cpu * 0.9, NetRxBytes: rx)) };

    [Fact]
    public void Measure_CountersGrew_RecordIsTheDifferenceOverTheInterval()
    {
        var sample = UsageMeter.Measure([SetReadings.Running("w1", cpu: 70, rx: 5000)], Baseline("w1", 40, 1000), T0, T0 + Minute, "h1");

        var record = Assert.Single(sample.Records);
        Assert.Equal(30, record.CpuSeconds, 9);
        Assert.Equal(27, record.VcpuSeconds, 9);
        Assert.Equal(4000UL, record.NetRxBytes);
        Assert.Equal(60U, record.PeriodSeconds);
        Assert.Equal(60U, record.PoweredOnSeconds);
        Assert.Equal(T0, record.PeriodStart.ToDateTimeOffset());
        Assert.Equal(("w1", "alice", "alice", "h1"), (record.LeaseId, record.Owner, record.Project, record.HostId));
        Assert.Equal(1UL << 30, record.MemoryBytes);
        Assert.Equal(512UL << 20, record.MemoryResidentBytes);
        Assert.Equal(70, sample.Baselines["w1"].Counters.CpuSeconds);
        Assert.Equal(T0 + Minute, sample.Baselines["w1"].SampledAt);
    }

    [Fact]
    public void Measure_CounterWentBackwards_CountsFromZero()
    {
        // Same pid (not known to have restarted) but the network counter is lower: it was reset, all 300 bytes are new.
        var sample = UsageMeter.Measure([SetReadings.Running("w1", cpu: 50, rx: 300)], Baseline("w1", 40, 1000), T0, T0 + Minute, "h1");

        var record = Assert.Single(sample.Records);
        Assert.Equal(300UL, record.NetRxBytes);
        Assert.Equal(10, record.CpuSeconds, 9);
    }

    [Fact]
    public void Measure_NewQemuProcess_EveryCounterCountsFromZero()
    {
        // The domain restarted within the period and already used more CPU than the old baseline: the pid tells.
        var sample = UsageMeter.Measure([SetReadings.Running("w1", cpu: 45, rx: 2000, pid: 200)], Baseline("w1", 40, 1000, pid: 100), T0, T0 + Minute, "h1");

        var record = Assert.Single(sample.Records);
        Assert.Equal(45, record.CpuSeconds, 9);
        Assert.Equal(2000UL, record.NetRxBytes);
    }

    [Fact]
    public void Measure_PoweredOnAtOneEnd_CountsHalfTheInterval_OffAtBothWithNothingUsed_NoRecord()
    {
        var stopped = UsageMeter.Measure([SetReadings.Off("w1")], Baseline("w1", 40, 1000), T0, T0 + Minute, "h1");
        var stillOff = UsageMeter.Measure([SetReadings.Off("w1")], stopped.Baselines, T0 + Minute, T0 + 2 * Minute, "h1");

        var record = Assert.Single(stopped.Records);
        Assert.Equal(30U, record.PoweredOnSeconds);
        Assert.Equal(0, record.CpuSeconds);
        Assert.Empty(stillOff.Records);
        Assert.Equal(UsageCounters.Zero, stillOff.Baselines["w1"].Counters);
    }

    [Fact]
    public void Measure_FirstSampleOfJournal_OnlySetsBaselines_LaterNewWorkspace_CountsFromZeroSinceLastSample()
    {
        var first = UsageMeter.Measure([SetReadings.Running("w1", cpu: 1000)], new Dictionary<string, UsageBaseline>(), null, T0, "h1");
        var later = UsageMeter.Measure([SetReadings.Running("w1", cpu: 1010), SetReadings.Running("w2", cpu: 3)], first.Baselines, T0, T0 + Minute, "h1");

        Assert.Empty(first.Records);
        Assert.Equal(1000, first.Baselines["w1"].Counters.CpuSeconds);
        Assert.Equal([("w1", 10.0), ("w2", 3.0)], later.Records.Select(r => (r.LeaseId, Math.Round(r.CpuSeconds, 6))).ToArray());
        Assert.Equal(30U, later.Records[1].PoweredOnSeconds);
    }

    [Fact]
    public void Measure_ClockWentBack_KeepsTheBaseline_ThenCoversEverythingSinceIt()
    {
        var back = UsageMeter.Measure([SetReadings.Running("w1", cpu: 50)], Baseline("w1", 40, 0), T0, T0 - Minute, "h1");
        var later = UsageMeter.Measure([SetReadings.Running("w1", cpu: 55)], back.Baselines, T0 - Minute, T0 + Minute, "h1");

        Assert.Empty(back.Records);
        Assert.Equal(40, back.Baselines["w1"].Counters.CpuSeconds);
        Assert.Equal(15, Assert.Single(later.Records).CpuSeconds, 9);
    }

    [Fact]
    public void Measure_WorkspaceGone_DropsItsBaseline()
    {
        var sample = UsageMeter.Measure([], Baseline("w1", 40, 1000), T0, T0 + Minute, "h1");

        Assert.Empty(sample.Records);
        Assert.Empty(sample.Baselines);
    }

    [Fact]
    public void Measure_WithinASecondOfTheLastSample_KeepsTheBaselines_ThePoweringOffOneIsRecordedAsOneSecond()
    {
        // A burst of power-offs: each takes a whole sample, milliseconds after the one before.
        var now = T0 + TimeSpan.FromMilliseconds(300);
        var baselines = new Dictionary<string, UsageBaseline>(Baseline("w1", 40, 1000)) { ["w2"] = Baseline("w2", 10, 0)["w2"] };

        var sample = UsageMeter.Measure(
            [SetReadings.Running("w1", cpu: 40.2, rx: 1100), SetReadings.Running("w2", cpu: 10.1), SetReadings.Running("w3", cpu: 0.1)],
            baselines, T0, now, "h1", poweringOff: "w2");

        var record = Assert.Single(sample.Records);
        Assert.Equal(("w2", 1U, 0U), (record.LeaseId, record.PeriodSeconds, record.PoweredOnSeconds));
        Assert.Equal(0.1, record.CpuSeconds, 9);
        Assert.Equal(baselines["w1"], sample.Baselines["w1"]);
        Assert.Equal(new UsageBaseline(T0, false, 0, UsageCounters.Zero), sample.Baselines["w3"]); // new: counts from the last sample
        Assert.Equal(now, sample.Baselines["w2"].SampledAt);

        var later = UsageMeter.Measure(
            [SetReadings.Running("w1", cpu: 46, rx: 1500), SetReadings.Running("w3", cpu: 2)], sample.Baselines, now, T0 + Minute, "h1");

        Assert.Equal([("w1", 6.0, 500UL, 60U), ("w3", 2.0, 0UL, 60U)],
            later.Records.Select(r => (r.LeaseId, Math.Round(r.CpuSeconds, 6), r.NetRxBytes, r.PeriodSeconds)).ToArray());
    }

    [Fact]
    public void Measure_AgentWasDownForHours_EqualRecordsOfAtMostAnHour_SharingTheUseExactly()
    {
        var down = TimeSpan.FromHours(2) + TimeSpan.FromMinutes(30);

        var sample = UsageMeter.Measure([SetReadings.Running("w1", cpu: 940, rx: 1000 + 1_000_001)], Baseline("w1", 40, 1000), T0, T0 + down, "h1");

        Assert.Equal(3, sample.Records.Count);
        Assert.All(sample.Records, r => Assert.Equal((3000U, 3000U, 300.0), (r.PeriodSeconds, r.PoweredOnSeconds, Math.Round(r.CpuSeconds, 6))));
        Assert.Equal([T0, T0 + TimeSpan.FromSeconds(3000), T0 + TimeSpan.FromSeconds(6000)], sample.Records.Select(r => r.PeriodStart.ToDateTimeOffset()).ToArray());
        Assert.Equal(1_000_001UL, sample.Records.Aggregate(0UL, (sum, r) => sum + r.NetRxBytes));
        Assert.InRange(sample.Records.Max(r => r.NetRxBytes) - sample.Records.Min(r => r.NetRxBytes), 0UL, 1UL);
        Assert.Equal(T0 + down, sample.Baselines["w1"].SampledAt);
    }
}
