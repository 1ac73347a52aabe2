using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Metering;
using NodeAgent.Contract.V1;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>The journal on real files: sequences, a torn tail, an agent crash mid-sampling, and compaction on acknowledgement.</summary>
public sealed class UsageJournalTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private readonly TempDirectory _dir = new();

    private string JournalFile => Path.Combine(_dir.Path, UsageJournal.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Append_NumbersRecordsInOrder_AndAReopenedJournalHasThemAndTheNextSequence()
    {
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            var written = journal.Append([Record("a", 1), Record("b", 2)], Baselines(("a", 1)), T0);
            journal.Append([Record("a", 3)], Baselines(("a", 4)), T0 + Minute);
            Assert.Equal([1UL, 2UL], written.Select(r => r.Sequence));
        }

        using var reopened = UsageJournal.Open(_dir.Path);
        Assert.Equal([(1UL, "a"), (2UL, "b"), (3UL, "a")], reopened.Pending(10).Select(r => (r.Sequence, r.LeaseId)));
        Assert.Equal(4UL, reopened.NextSequence);
        Assert.Equal(T0 + Minute, reopened.LastSample);
        Assert.Equal(4, reopened.Baselines["a"].Counters.CpuSeconds);
        Assert.Equal(0, reopened.DiscardedBytes);
    }

    [Fact]
    public void Open_TornLastEntry_IsCutOffAndNothingBeforeItIsLost()
    {
        ulong epoch;
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            journal.Append([Record("a", 1)], Baselines(("a", 1)), T0);
            journal.Append([Record("a", 2)], Baselines(("a", 3)), T0 + Minute);
            epoch = journal.Epoch;
        }

        var whole = new FileInfo(JournalFile).Length;
        // A crash in the middle of writing the third entry: only its first half reached the disk.
        var torn = new JournalEntry(epoch, 0, 4, T0 + 2 * Minute, [Record("a", 3)], Baselines(("a", 6))).Encode();
        using (var file = new FileStream(JournalFile, FileMode.Append))
        {
            file.Write(torn, 0, torn.Length / 2);
        }

        using (var reopened = UsageJournal.Open(_dir.Path))
        {
            Assert.Equal(torn.Length / 2, reopened.DiscardedBytes);
            Assert.Equal(whole, new FileInfo(JournalFile).Length);
            Assert.Equal([1UL, 2UL], reopened.Pending(10).Select(r => r.Sequence));
            Assert.Equal(3, reopened.Baselines["a"].Counters.CpuSeconds);
            // Appends after the cut are read back after the records before it.
            reopened.Append([Record("a", 9)], Baselines(("a", 12)), T0 + 3 * Minute);
        }

        using var again = UsageJournal.Open(_dir.Path);
        Assert.Equal([1UL, 2UL, 3UL], again.Pending(10).Select(r => r.Sequence));
        Assert.Equal(0, again.DiscardedBytes);
    }

    [Fact]
    public void Open_CorruptedByteInLastEntry_CrcMismatchCutsItOff()
    {
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            journal.Append([Record("a", 1)], Baselines(("a", 1)), T0);
            journal.Append([Record("a", 2)], Baselines(("a", 3)), T0 + Minute);
        }

        var bytes = File.ReadAllBytes(JournalFile);
        bytes[^3] ^= 0xFF;
        File.WriteAllBytes(JournalFile, bytes);

        using var reopened = UsageJournal.Open(_dir.Path);
        Assert.Equal([1UL], reopened.Pending(10).Select(r => r.Sequence));
        Assert.Equal(1, reopened.Baselines["a"].Counters.CpuSeconds);
        Assert.Equal(2UL, reopened.NextSequence);
    }

    [Fact]
    public void Acknowledge_DropsRecordsUpToIt_KeepsTheRest_AndTheFileShrinks()
    {
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            for (var i = 0; i < 50; i++)
            {
                journal.Append([Record("a", i), Record("b", i)], Baselines(("a", i)), T0 + i * Minute);
            }

            var before = new FileInfo(JournalFile).Length;
            journal.Acknowledge(97);

            Assert.True(new FileInfo(JournalFile).Length < before / 10, "the acknowledged records left the file");
            Assert.Equal([98UL, 99UL, 100UL], journal.Pending(10).Select(r => r.Sequence));
            Assert.False(File.Exists(JournalFile + ".tmp"));
        }

        using var reopened = UsageJournal.Open(_dir.Path);
        Assert.Equal([98UL, 99UL, 100UL], reopened.Pending(10).Select(r => r.Sequence));
        Assert.Equal(97UL, reopened.AcknowledgedSequence);
        Assert.Equal(101UL, reopened.NextSequence);
        Assert.Equal(49, reopened.Baselines["a"].Counters.CpuSeconds);
    }

    [Fact]
    public void Acknowledge_All_SequenceContinuesAfterReopen_AndBeyondTheLastGivenIsCapped()
    {
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            journal.Append([Record("a", 1), Record("a", 2)], Baselines(("a", 2)), T0);
            journal.Acknowledge(1000);
            Assert.Equal(2UL, journal.AcknowledgedSequence);
            Assert.Equal(0, journal.PendingCount);
        }

        using var reopened = UsageJournal.Open(_dir.Path);
        var written = reopened.Append([Record("a", 3)], Baselines(("a", 3)), T0 + Minute);
        Assert.Equal(3UL, Assert.Single(written).Sequence);
        Assert.Equal(3UL, Assert.Single(reopened.Pending(10)).Sequence);
    }

    [Fact]
    public void Open_LeftoverCompactionFile_IsIgnoredAndRemoved()
    {
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            journal.Append([Record("a", 1)], Baselines(("a", 1)), T0);
        }

        // A crash after writing the compacted copy but before renaming it: the journal itself is still whole.
        File.WriteAllBytes(JournalFile + ".tmp", [1, 2, 3]);

        using var reopened = UsageJournal.Open(_dir.Path);
        Assert.Equal([1UL], reopened.Pending(10).Select(r => r.Sequence));
        Assert.False(File.Exists(JournalFile + ".tmp"));
    }

    [Fact]
    public void Sampler_CrashAfterAppending_NewSamplerContinuesSequenceAndBaselines_NothingLostOrDoubled()
    {
        var clock = new ManualClock(T0);
        var source = new SetReadings();
        source.Current.Add(SetReadings.Running("w1", cpu: 100, rx: 1000));
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            var sampler = Sampler(source, journal, clock);
            Assert.Empty(sampler.SampleOnce()); // the journal's first sample: baselines only
            clock.Advance(Minute);
            source.Current[0] = SetReadings.Running("w1", cpu: 130, rx: 1600);
            Assert.Equal(30, Assert.Single(sampler.SampleOnce()).CpuSeconds, 9);
            // The agent dies here: nothing after the append ran (no shipping, no acknowledgement, no clean close).
        }

        clock.Advance(Minute);
        source.Current[0] = SetReadings.Running("w1", cpu: 145, rx: 1700);
        using var restarted = UsageJournal.Open(_dir.Path);
        var record = Assert.Single(Sampler(source, restarted, clock).SampleOnce());

        Assert.Equal(2UL, record.Sequence);
        Assert.Equal(15, record.CpuSeconds, 9);
        Assert.Equal(100UL, record.NetRxBytes);
        Assert.Equal(T0 + Minute, record.PeriodStart.ToDateTimeOffset());
        var all = restarted.Pending(10);
        Assert.Equal(45, all.Sum(r => r.CpuSeconds), 9); // 100 → 145 counted exactly once
        Assert.Equal(700UL, (ulong)all.Sum(r => (long)r.NetRxBytes));
    }

    [Fact]
    public void Sampler_CrashInTheMiddleOfAnAppend_NextSampleCoversBothPeriods()
    {
        var clock = new ManualClock(T0);
        var source = new SetReadings();
        source.Current.Add(SetReadings.Running("w1", cpu: 100));
        ulong epoch;
        using (var journal = UsageJournal.Open(_dir.Path))
        {
            Sampler(source, journal, clock).SampleOnce();
            epoch = journal.Epoch;
        }

        // The second sample's entry was torn by the crash: neither its record nor its baseline counts.
        clock.Advance(Minute);
        var torn = new JournalEntry(epoch, 0, 2, clock.GetUtcNow(), [Record("w1", 30)], Baselines(("w1", 130))).Encode();
        using (var file = new FileStream(JournalFile, FileMode.Append))
        {
            file.Write(torn, 0, torn.Length - 5);
        }

        clock.Advance(Minute);
        source.Current[0] = SetReadings.Running("w1", cpu: 150);
        using var restarted = UsageJournal.Open(_dir.Path);
        var record = Assert.Single(Sampler(source, restarted, clock).SampleOnce());

        Assert.Equal(1UL, record.Sequence);
        Assert.Equal(50, record.CpuSeconds, 9);
        Assert.Equal(120U, record.PeriodSeconds);
        Assert.Equal(T0, record.PeriodStart.ToDateTimeOffset());
    }

    internal static UsageSampler Sampler(IUsageSource source, UsageJournal journal, TimeProvider clock) =>
        new(source, journal, "h1", Minute, clock, NullLogger<UsageSampler>.Instance);

    internal static UsageRecord Record(string lease, double cpu) => new() { LeaseId = lease, HostId = "h1", CpuSeconds = cpu, PeriodSeconds = 60 };

    private static Dictionary<string, UsageBaseline> Baselines(params (string Id, double Cpu)[] values) =>
        values.ToDictionary(v => v.Id, v => new UsageBaseline(T0, true, 100, new UsageCounters(CpuSeconds: v.Cpu)));
}
