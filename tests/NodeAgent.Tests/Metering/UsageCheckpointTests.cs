using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Metering;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>The sample taken just before a workspace powers off: it records the use since the last periodic sample.</summary>
public sealed class UsageCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void BeforePowerOff_RecordsTheUseSinceTheLastSample_AndTheNextSampleStartsFromIt()
    {
        var source = new SetReadings();
        using var journal = UsageJournal.Open(_dir.Path);
        var sampler = new UsageSampler(source, journal, "h1", TimeSpan.FromMinutes(1), _clock, NullLogger<UsageSampler>.Instance);
        source.Current.Add(SetReadings.Running("w1", cpu: 10));
        sampler.SampleOnce();

        // 40 s into the next period the workspace is released: 5 more CPU seconds, then QEMU is gone.
        _clock.Advance(TimeSpan.FromSeconds(40));
        source.Current[0] = SetReadings.Running("w1", cpu: 15);
        sampler.BeforePowerOff("w1");
        source.Current.Clear();
        _clock.Advance(TimeSpan.FromSeconds(20));
        sampler.SampleOnce();

        var records = journal.Pending(10);
        var last = Assert.Single(records);
        Assert.Equal("w1", last.LeaseId);
        Assert.Equal(5, last.CpuSeconds);
        Assert.Equal(40U, last.PeriodSeconds);
    }

    [Fact]
    public void BeforePowerOff_SourceFails_DoesNotThrowAndWritesNothing()
    {
        using var journal = UsageJournal.Open(_dir.Path);
        var sampler = new UsageSampler(new FailingSource(), journal, "h1", TimeSpan.FromMinutes(1), _clock, NullLogger<UsageSampler>.Instance);

        sampler.BeforePowerOff("w1");

        Assert.Null(journal.LastSample);
        Assert.Equal(0, journal.PendingCount);
    }

    private sealed class FailingSource : IUsageSource
    {
        public IReadOnlyList<WorkspaceReading> Read() => throw new IOException("libvirt connection lost");
    }
}
