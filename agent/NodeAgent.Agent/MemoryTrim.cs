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
/// <remarks>
/// With 100 workspaces (test driver, 10 s heartbeats) and 2 MiB alive, the heap's commit creeps up between ordinary
/// collections. With 4 MiB of slack a trim came every few minutes and the agent's resident set rose from 29.5 to 33 MiB
/// before each one; with 1 MiB one comes every 20-30 s, pauses 3-4 ms, and the resident set stays at 27.8-29.4 MiB.
/// </remarks>
public sealed partial class MemoryTrim(TimeProvider time, ILogger<MemoryTrim> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Unused committed memory tolerated before a trim: the agent's gen0 budget (GCgen0size in the project file), what
    /// it allocates between two ordinary collections.
    /// </summary>
    public const long Slack = 1L << 20;

    /// <summary>Whether the heap holds more than <see cref="Slack"/> it does not use: committed, less what the last collection found alive.</summary>
    public static bool Worthwhile(long committedBytes, long heapSizeBytes, long fragmentedBytes) =>
        committedBytes - (heapSizeBytes - fragmentedBytes) > Slack;

    /// <summary>Collects aggressively when <see cref="Worthwhile"/>; returns the committed bytes before and after and the pause, or null when it did not.</summary>
    public static (long Before, long After, long Alive, TimeSpan Pause)? TrimIfWorthwhile()
    {
        var info = GC.GetGCMemoryInfo();
        if (!Worthwhile(info.TotalCommittedBytes, info.HeapSizeBytes, info.FragmentedBytes))
        {
            return null;
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var after = GC.GetGCMemoryInfo(GCKind.Any);
        return (info.TotalCommittedBytes, after.TotalCommittedBytes, after.HeapSizeBytes - after.FragmentedBytes, after.PauseDurations[0]);
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
                    LogTrimmed(logger, trim.Before >> 10, trim.After >> 10, trim.Alive >> 10, trim.Pause.TotalMilliseconds);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gave unused heap memory back: committed {BeforeKiB} KiB -> {AfterKiB} KiB, {LiveKiB} KiB alive, {PauseMs:0.0} ms pause")]
    private static partial void LogTrimmed(ILogger logger, long beforeKiB, long afterKiB, long liveKiB, double pauseMs);
}
