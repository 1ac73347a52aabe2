using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>
/// Prefetching while sampling: the examination order is drawn a few hosts ahead, so the candidates examined next can
/// be asked for before they are read. That must change neither the order nor any decision, and each hint must name
/// a host examined a fixed number of places later.
/// </summary>
public sealed class ExaminationPrefetchTests
{
    private static readonly PlacementRequest Request = SyntheticCluster.Request;

    /// <summary>Records each hint with how many indexes the order had handed out when it came.</summary>
    private sealed class RecordingPrefetch : ICandidatePrefetch
    {
        public int Handed { get; set; }

        public List<(int Index, int Handed)> Cells { get; } = [];

        public List<(int Index, int Handed)> Candidates { get; } = [];

        public void PrefetchCell(int index) => Cells.Add((index, Handed));

        public void PrefetchCandidate(int index) => Candidates.Add((index, Handed));
    }

    private static List<int> Drain(ExaminationOrder order, int take, RecordingPrefetch? hints = null)
    {
        var taken = new List<int>();
        while (taken.Count < take && order.Next() is { } index)
        {
            taken.Add(index);
            if (hints is not null)
            {
                hints.Handed++;
            }
        }

        return taken;
    }

    [Theory]
    [InlineData(10_000, 64)]
    [InlineData(20, 20)]
    [InlineData(3, 3)]
    [InlineData(1, 1)]
    public void Next_WithPrefetch_SameOrderAsWithout(int count, int take)
    {
        var plain = Drain(new ExaminationOrder(count, new Random(9)), take);
        var hints = new RecordingPrefetch();
        var order = new ExaminationOrder(count, new Random(9), hints);
        var prefetched = Drain(order, take, hints);

        Assert.Equal(plain, prefetched);
        Assert.Equal(take, prefetched.Distinct().Count());
        if (take == count)
        {
            Assert.Equal(Enumerable.Range(0, count), prefetched.Order());
            Assert.Null(order.Next());
        }
    }

    [Fact]
    public void Next_AsksForEachCellAndCandidateAFixedNumberOfPlacesBeforeItIsExamined()
    {
        var hints = new RecordingPrefetch();
        var examined = Drain(new ExaminationOrder(10_000, new Random(3), hints), 64, hints);

        // The hint for the host examined k-th came while the (k - ahead)-th was being handed out.
        for (var k = 0; k < examined.Count; k++)
        {
            if (k >= ExaminationOrder.CellAhead)
            {
                Assert.Contains((examined[k], k - ExaminationOrder.CellAhead), hints.Cells);
            }

            if (k >= ExaminationOrder.CandidateAhead)
            {
                Assert.Contains((examined[k], k - ExaminationOrder.CandidateAhead), hints.Candidates);
            }
        }

        Assert.Equal(hints.Cells.Count, hints.Cells.Select(h => h.Index).Distinct().Count());
        Assert.Equal(hints.Candidates.Count, hints.Candidates.Select(h => h.Index).Distinct().Count());
        Assert.True(ExaminationOrder.CellAhead > ExaminationOrder.CandidateAhead, "a candidate's cell must be asked for before the candidate");
    }

    [Fact]
    public void Next_InListOrder_GivesNoHints()
    {
        var hints = new RecordingPrefetch();

        var examined = Drain(new ExaminationOrder(100, random: null, hints), 100, hints);

        Assert.Equal(Enumerable.Range(0, 100), examined);
        Assert.Empty(hints.Cells);
        Assert.Empty(hints.Candidates);
    }

    [Fact]
    public void Decide_OnPrefetchingCandidates_SameDecisionAndHintsOnlyForHostsItReads()
    {
        var cluster = SyntheticCluster.Generate(10_000, seed: 31);
        var hints = new RecordingPrefetch();
        var read = new HashSet<int>();
        var lazy = new LazyCandidates(cluster.Hosts.Count, i => { read.Add(i); return cluster.Hosts[i]; }, hints);
        var pipeline = PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = 64, Seed = 5 });

        var plain = pipeline.Decide(cluster.Hosts, Request, sampleSeed: 77);
        var prefetched = pipeline.Decide(lazy, Request, sampleSeed: 77);

        Assert.Equal(plain.Host, prefetched.Host);
        Assert.Equal(plain.Considered, prefetched.Considered);
        Assert.Equal(plain.Ranked.Select(r => (r.Host, r.Total)), prefetched.Ranked.Select(r => (r.Host, r.Total)));
        Assert.Equal(prefetched.Considered, read.Count);

        // Every host read after the first few was asked for first; only the few drawn past the last one read were not read.
        Assert.Equal(prefetched.Considered - ExaminationOrder.CandidateAhead, hints.Candidates.Count(h => read.Contains(h.Index)));
        Assert.InRange(hints.Candidates.Count(h => !read.Contains(h.Index)), 0, ExaminationOrder.CandidateAhead);
        Assert.InRange(hints.Cells.Count(h => !read.Contains(h.Index)), 0, ExaminationOrder.CellAhead);
    }

    [Fact]
    public void DecideEach_OnPrefetchingCandidates_SameHostsAsWithout()
    {
        var cluster = SyntheticCluster.Generate(10_000, seed: 32);
        var hints = new RecordingPrefetch();
        var lazy = new LazyCandidates(cluster.Hosts.Count, i => cluster.Hosts[i], hints);

        var plain = PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = 64, Seed = 6 }).DecideEach(cluster.Hosts, Request, 20);
        var prefetched = PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = 64, Seed = 6 }).DecideEach(lazy, Request, 20);

        Assert.Equal(plain, prefetched);
        Assert.NotEmpty(hints.Candidates);
    }
}
