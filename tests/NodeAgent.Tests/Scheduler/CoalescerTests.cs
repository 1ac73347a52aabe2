using NodeAgent.Scheduler.Leases;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// The coalescer that plans concurrent leases together: a lone request is handled at once on its caller's thread, the
/// requests that arrive while a batch runs are handled together in the next one, each gets its own result, and a batch
/// that fails fails only its own requests.
/// </summary>
public sealed class CoalescerTests
{
    [Fact]
    public async Task ALoneRequest_IsHandledAtOnce_OnItsCallersThread()
    {
        var threads = new List<int>();
        var coalescer = new Coalescer<int, int>(items =>
        {
            threads.Add(Environment.CurrentManagedThreadId);
            return items.Select(i => i * 10).ToArray();
        }, maxBatch: 8);

        var result = coalescer.RunAsync(4);

        Assert.True(result.IsCompletedSuccessfully);
        Assert.Equal(40, await result);
        Assert.Equal([Environment.CurrentManagedThreadId], threads);
    }

    [Fact]
    public async Task RequestsArrivingDuringABatch_AreHandledTogether_EachWithItsOwnResult()
    {
        var (coalescer, batches, release) = Blocking(maxBatch: 64);
        var first = Task.Run(() => coalescer.RunAsync(0));
        await WaitFor(() => batches.Count == 1);

        var later = Enumerable.Range(1, 5).Select(coalescer.RunAsync).ToList();
        Assert.All(later, t => Assert.False(t.IsCompleted));
        release.Set();

        Assert.Equal(0, await first);
        var results = await Task.WhenAll(later);
        Assert.Equal([10, 20, 30, 40, 50], results);
        Assert.Equal([[0], [1, 2, 3, 4, 5]], batches.ToArray());
    }

    [Fact]
    public async Task ALongerQueueThanTheLargestBatch_IsHandledInSeveral_InArrivalOrder()
    {
        var (coalescer, batches, release) = Blocking(maxBatch: 2);
        var first = Task.Run(() => coalescer.RunAsync(0));
        await WaitFor(() => batches.Count == 1);
        var later = Enumerable.Range(1, 5).Select(coalescer.RunAsync).ToList();
        release.Set();

        await first;
        await Task.WhenAll(later);
        Assert.Equal([[0], [1, 2], [3, 4], [5]], batches.ToArray());
    }

    [Fact]
    public async Task ABatchThatThrows_FailsItsOwnRequests_AndTheNextBatchRuns()
    {
        var calls = 0;
        var coalescer = new Coalescer<int, int>(items =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("the store could not be read");
            }

            return [.. items];
        }, maxBatch: 8);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => coalescer.RunAsync(1));
        Assert.Equal("the store could not be read", failed.Message);
        Assert.Equal(2, await coalescer.RunAsync(2));
    }

    [Fact]
    public async Task AHandlerThatGivesTheWrongNumberOfResults_FailsItsRequests()
    {
        var coalescer = new Coalescer<int, int>(_ => [], maxBatch: 8);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => coalescer.RunAsync(1));
        Assert.Contains("a batch of 1 gave 0 results", failed.Message, StringComparison.Ordinal);
    }

    /// <summary>A coalescer whose first batch waits for <c>release</c>; every batch's items are recorded.</summary>
    private static (Coalescer<int, int> Coalescer, System.Collections.Concurrent.ConcurrentQueue<int[]> Batches, ManualResetEventSlim Release) Blocking(int maxBatch)
    {
        var batches = new System.Collections.Concurrent.ConcurrentQueue<int[]>();
        var release = new ManualResetEventSlim();
        var coalescer = new Coalescer<int, int>(items =>
        {
            batches.Enqueue([.. items]);
            if (batches.Count == 1)
            {
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            }

            return items.Select(i => i * 10).ToArray();
        }, maxBatch);
        return (coalescer, batches, release);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "the first batch never started");
            await Task.Delay(5);
        }
    }
}
