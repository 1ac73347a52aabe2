namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// Handles concurrent requests in batches, as group commit does writes: a request that arrives while a batch is being
/// handled waits and is handled with the others that arrived meanwhile, in one pass. A lone request is handled at
/// once, on its caller's thread, with no wait; under load, N concurrent requests cost one pass rather than N.
/// </summary>
/// <remarks>
/// One batch runs at a time. The caller that finds none running handles the first batch on its own thread; what
/// queued meanwhile is handled next on the thread pool, so no caller waits for batches after its own. A batch that
/// throws fails each of its requests with the exception; the next batch runs as usual.
/// </remarks>
internal sealed class Coalescer<TItem, TResult>
{
    private readonly Func<IReadOnlyList<TItem>, TResult[]> _handle;
    private readonly int _maxBatch;
    private readonly Lock _gate = new();
    private List<Waiting> _queue = [];
    private bool _running;

    /// <param name="handle">Handles a batch: one result per item, in the items' order.</param>
    /// <param name="maxBatch">At most this many items in one batch; a longer queue is handled in several.</param>
    public Coalescer(Func<IReadOnlyList<TItem>, TResult[]> handle, int maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _handle = handle;
        _maxBatch = maxBatch;
    }

    /// <summary>The result for <paramref name="item"/>, from the batch it joins.</summary>
    public Task<TResult> RunAsync(TItem item)
    {
        var waiting = new Waiting(item);
        lock (_gate)
        {
            _queue.Add(waiting);
            if (_running)
            {
                return waiting.Completion.Task;
            }

            _running = true;
        }

        RunBatch();
        return waiting.Completion.Task;
    }

    private void RunBatch()
    {
        List<Waiting> batch;
        lock (_gate)
        {
            if (_queue.Count <= _maxBatch)
            {
                batch = _queue;
                _queue = [];
            }
            else
            {
                batch = _queue.GetRange(0, _maxBatch);
                _queue.RemoveRange(0, _maxBatch);
            }
        }

        try
        {
            var items = new TItem[batch.Count];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = batch[i].Item;
            }

            var results = _handle(items);
            if (results.Length != items.Length)
            {
                throw new InvalidOperationException($"a batch of {items.Length} gave {results.Length} results");
            }

            for (var i = 0; i < results.Length; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception e)
        {
            foreach (var waiting in batch)
            {
                waiting.Completion.TrySetException(e);
            }
        }

        lock (_gate)
        {
            if (_queue.Count == 0)
            {
                _running = false;
                return;
            }
        }

        ThreadPool.UnsafeQueueUserWorkItem(static coalescer => coalescer.RunBatch(), this, preferLocal: false);
    }

    private sealed class Waiting(TItem item)
    {
        public TItem Item { get; } = item;

        // Asynchronous continuations: the thread handling a batch does not go on to run its other callers' requests.
        public TaskCompletionSource<TResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
