using System.Buffers.Binary;
using Google.Protobuf;
using NodeAgent.Agent.Metering;
using NodeAgent.Contract.V1;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>
/// The journal's epoch on real files: drawn once from the injected random source, kept across reopen and compaction,
/// new for a journal that was lost, and 0 for a journal written in entry format 1 (before epochs).
/// </summary>
public sealed class UsageJournalEpochTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private readonly TempDirectory _dir = new();

    private string JournalFile => Path.Combine(_dir.Path, UsageJournal.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_NewJournal_DrawsTheEpochOnceFromTheSource_AndKeepsItAcrossReopenAndCompaction()
    {
        var expected = FirstDraw(seed: 7);
        using (var journal = UsageJournal.Open(_dir.Path, new Random(7)))
        {
            Assert.Equal(expected, journal.Epoch);
        }

        // Reopened with another source, before any record: the epoch was written when the journal was created.
        using (var journal = UsageJournal.Open(_dir.Path, new Random(8)))
        {
            Assert.Equal(expected, journal.Epoch);
            var written = journal.Append([UsageJournalTests.Record("a", 1), UsageJournalTests.Record("b", 2)], Baselines(1), T0);
            Assert.All(written, r => Assert.Equal(expected, r.JournalEpoch));
            journal.Acknowledge(1); // compaction rewrites the file as one entry
            Assert.Equal(expected, journal.Epoch);
        }

        using var reopened = UsageJournal.Open(_dir.Path, new Random(9));
        var later = reopened.Append([UsageJournalTests.Record("a", 3)], Baselines(4), T0 + Minute);

        Assert.Equal(expected, reopened.Epoch);
        Assert.Equal([(2UL, expected), (3UL, expected)], reopened.Pending(10).Select(r => (r.Sequence, r.JournalEpoch)));
        Assert.Equal(expected, Assert.Single(later).JournalEpoch);
        Assert.False(File.Exists(JournalFile + ".tmp"));
    }

    [Fact]
    public void Open_JournalLost_NewJournalNumbersFrom1UnderANewEpoch()
    {
        ulong lostEpoch;
        using (var journal = UsageJournal.Open(_dir.Path, new Random(1)))
        {
            journal.Append([UsageJournalTests.Record("a", 1), UsageJournalTests.Record("a", 2)], Baselines(2), T0);
            lostEpoch = journal.Epoch;
        }

        File.Delete(JournalFile); // the state directory was lost (disk replaced, reinstall)

        using var fresh = UsageJournal.Open(_dir.Path, new Random(2));
        var written = fresh.Append([UsageJournalTests.Record("a", 5)], Baselines(5), T0 + Minute);

        Assert.NotEqual(0UL, fresh.Epoch);
        Assert.NotEqual(lostEpoch, fresh.Epoch);
        Assert.Equal((1UL, fresh.Epoch), (Assert.Single(written).Sequence, written[0].JournalEpoch));
    }

    [Fact]
    public void Open_SourceDrawsZeroFirst_DrawsAgain_BecauseZeroMeansNoEpoch()
    {
        using var journal = UsageJournal.Open(_dir.Path, new ZeroesFirst(times: 2));

        Assert.Equal(0x0807060504030201UL, journal.Epoch);
    }

    [Fact]
    public void Open_FormatOneJournal_ReadsAsEpoch0_AndContinuesItsSequencesInFormat2()
    {
        // As an agent from before epochs left it: a compaction that acknowledged sequence 1, then one more sample.
        var legacy = FormatOne(1, 3, T0, [Legacy(2, "b")], ("a", 10))
            .Concat(FormatOne(1, 4, T0 + Minute, [Legacy(3, "a")], ("a", 12)))
            .ToArray();
        File.WriteAllBytes(JournalFile, legacy);

        using (var journal = UsageJournal.Open(_dir.Path, new Random(3)))
        {
            Assert.Equal(0UL, journal.Epoch);
            Assert.Equal(0, journal.DiscardedBytes);
            Assert.Equal(1UL, journal.AcknowledgedSequence);
            Assert.Equal([(2UL, "b"), (3UL, "a")], journal.Pending(10).Select(r => (r.Sequence, r.LeaseId)));
            Assert.Equal(12, journal.Baselines["a"].Counters.CpuSeconds);
            Assert.Equal(T0 + Minute, journal.LastSample);
            var written = journal.Append([UsageJournalTests.Record("a", 4)], Baselines(16), T0 + 2 * Minute);
            Assert.Equal((4UL, 0UL), (Assert.Single(written).Sequence, written[0].JournalEpoch));
        }

        var bytes = File.ReadAllBytes(JournalFile);
        Assert.Equal(legacy, bytes[..legacy.Length]); // the old entries stay as they were
        Assert.Equal(JournalEntry.Format, bytes[legacy.Length + 8]); // the new one is format 2

        using var reopened = UsageJournal.Open(_dir.Path, new Random(4));
        Assert.Equal(0UL, reopened.Epoch);
        Assert.Equal([2UL, 3UL, 4UL], reopened.Pending(10).Select(r => r.Sequence));
        Assert.Equal(5UL, reopened.NextSequence);
        Assert.Equal(16, reopened.Baselines["a"].Counters.CpuSeconds);
        Assert.Equal(0, reopened.DiscardedBytes);
    }

    /// <summary>What <see cref="Random.NextBytes(Span{byte})"/> gives first for a seed, as the journal reads it.</summary>
    private static ulong FirstDraw(int seed)
    {
        var bytes = new byte[8];
        new Random(seed).NextBytes(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private static UsageRecord Legacy(ulong sequence, string lease) => new() { LeaseId = lease, HostId = "h1", Sequence = sequence, CpuSeconds = 1, PeriodSeconds = 60 };

    /// <summary>A format-1 entry written from docs/metering.md's layout, independently of the journal's own encoder.</summary>
    private static byte[] FormatOne(ulong acknowledged, ulong next, DateTimeOffset sampledAt, UsageRecord[] records, (string Id, double Cpu) baseline)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload))
        {
            w.Write((byte)1);
            w.Write(acknowledged);
            w.Write(next);
            w.Write(sampledAt.UtcTicks);
            w.Write(records.Length);
            foreach (var record in records)
            {
                var bytes = record.ToByteArray();
                w.Write(bytes.Length);
                w.Write(bytes);
            }

            w.Write(1);
            w.Write(baseline.Id);
            w.Write(sampledAt.UtcTicks);
            w.Write(true);
            w.Write(100);
            w.Write(baseline.Cpu);
            w.Write(baseline.Cpu);
            for (var i = 0; i < 8; i++)
            {
                w.Write(0UL);
            }
        }

        var body = payload.ToArray();
        var framed = new byte[8 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(framed, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(framed.AsSpan(4), Crc32.Compute(body));
        body.CopyTo(framed, 8);
        return framed;
    }

    private static Dictionary<string, UsageBaseline> Baselines(double cpu) =>
        new() { ["a"] = new UsageBaseline(T0, true, 100, new UsageCounters(CpuSeconds: cpu)) };

    /// <summary>A random source that gives all-zero bytes a few times, then 01 02 … 08: the one way to see a redraw.</summary>
    private sealed class ZeroesFirst(int times) : Random
    {
        private int _left = times;

        public override void NextBytes(Span<byte> buffer)
        {
            for (var i = 0; i < buffer.Length; i++)
            {
                buffer[i] = _left > 0 ? (byte)0 : (byte)(i + 1);
            }

            _left--;
        }
    }
}
