using NodeAgent.Agent;

namespace NodeAgent.Tests.Agent;

/// <summary>The agent's return of unused heap memory after a burst.</summary>
[Collection(WholeHeap.Name)]
public sealed class MemoryTrimTests
{
    [Theory]
    [InlineData(10L << 20, 9L << 20, 0L, false)] // 1 MiB unused
    [InlineData(10L << 20, 9L << 20, 1L << 20, true)] // 1 MiB unused plus 1 MiB free inside the heap
    [InlineData(16L << 20, 4L << 20, 0L, true)] // 12 MiB unused
    [InlineData(4L << 20, 4L << 20, 0L, false)]
    public void Worthwhile_MoreThanSlackUnused(long committed, long heapSize, long fragmented, bool expected)
    {
        Assert.Equal(expected, MemoryTrim.Worthwhile(committed, heapSize, fragmented));
    }

    [Fact]
    public void TrimIfWorthwhile_AfterABurstOfGarbage_CommittedMemoryGoesDown()
    {
        Burst();
        // An ordinary full collection finds the burst dead and keeps most of its memory committed, as the agent's
        // heap does after a hundred leases.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);

        var trim = MemoryTrim.TrimIfWorthwhile();

        Assert.NotNull(trim);
        Assert.True(trim.Value.After < trim.Value.Before - (16L << 20), $"committed {trim.Value.Before >> 20} -> {trim.Value.After >> 20} MiB");
    }

    // 64 MiB in 1 MiB arrays, alive until the method returns.
    private static void Burst()
    {
        var arrays = new List<byte[]>();
        for (var i = 0; i < 64; i++)
        {
            arrays.Add(new byte[1 << 20]);
            arrays[^1][^1] = 1;
        }

        GC.KeepAlive(arrays);
    }
}

/// <summary>
/// The trim test measures the whole process's heap, so it runs alone: tests allocating in parallel would change
/// what it measures.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeHeap
{
    public const string Name = "MemoryTrim";
}
