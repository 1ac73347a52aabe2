using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent;

/// <summary>
/// Gives memory the garbage collector holds but no longer uses back to the system, once a burst of work is over.
/// After a burst (a hundred workspaces leased at once) the collector keeps the memory it grew to for minutes, and
/// the agent, idle again, would go on holding it. Every <see cref="Interval"/> this compares what the heap has
/// committed with what the last collection found alive; when more than <see cref="Slack"/> is unused, one
/// aggressive collection compacts the heap and decommits the rest. An idle heap of a few MiB takes a few
/// milliseconds to collect.
/// </summary>
public sealed partial class MemoryTrim(TimeProvider time, ILogger<MemoryTrim> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Unused committed memory tolerated before a trim: the size of one burst of ordinary work.</summary>
    public const long Slack = 4L << 20;

    /// <summary>Whether the heap holds more than <see cref="Slack"/> it does not use: committed, less what the last collection found alive.</summary>
    public static bool Worthwhile(long committedBytes, long heapSizeBytes, long fragmentedBytes) =>
        committedBytes - (heapSizeBytes - fragmentedBytes) > Slack;

    /// <summary>Collects aggressively when <see cref="Worthwhile"/>; returns the committed bytes before and after, or null when it did not.</summary>
    public static (long Before, long After, long Alive)? TrimIfWorthwhile()
    {
        var info = GC.GetGCMemoryInfo();
        if (!Worthwhile(info.TotalCommittedBytes, info.HeapSizeBytes, info.FragmentedBytes))
        {
            return null;
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var after = GC.GetGCMemoryInfo(GCKind.Any);
        return (info.TotalCommittedBytes, after.TotalCommittedBytes, after.HeapSizeBytes - after.FragmentedBytes);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (TrimIfWorthwhile() is { } trim)
                {
                    LogTrimmed(logger, trim.Before >> 10, trim.After >> 10, trim.Alive >> 10);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gave unused heap memory back: committed {BeforeKiB} KiB -> {AfterKiB} KiB, {LiveKiB} KiB alive")]
    private static partial void LogTrimmed(ILogger logger, long beforeKiB, long afterKiB, long liveKiB);
}
