using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// Told just before the agent powers a workspace off (a stop, a hard stop, a removal): once QEMU exits its counters are
/// gone, so the use since the last periodic sample must be written now or never.
/// </summary>
public interface IUsageCheckpoint
{
    /// <summary>Records the use so far; never throws (a failure is logged and the periodic sample covers what it can).</summary>
    void BeforePowerOff(string workspaceId);
}

/// <summary>For an agent that does not meter (tests of other parts).</summary>
public sealed class NoUsageCheckpoint : IUsageCheckpoint
{
    public static readonly NoUsageCheckpoint Instance = new();

    public void BeforePowerOff(string workspaceId)
    {
    }
}

/// <summary>
/// Once per period reads every workspace's cumulative counters and writes the difference from the previous sample to
/// the journal as usage records, with the new baselines in the same entry. The baselines come from the journal, so a
/// restarted agent measures from the last sample written: a period is neither lost (the next record covers everything
/// since that sample, however long the agent was down) nor counted twice (a sample not written left the baselines where
/// they were). A sample is also taken just before the agent powers a workspace off (<see cref="IUsageCheckpoint"/>), so
/// the use between the last periodic sample and the power-off is recorded too.
/// </summary>
public sealed partial class UsageSampler(
    IUsageSource source,
    UsageJournal journal,
    string hostId,
    TimeSpan period,
    TimeProvider time,
    ILogger<UsageSampler> logger) : BackgroundService, IUsageCheckpoint
{
    // Samples come from the timer and from power-offs; each one reads the baselines the previous one wrote.
    private readonly Lock _sampling = new();
    private TimeSpan _period = period;
    private PeriodicTimer? _timer;

    /// <summary>How often a sample is taken; set by a reload, it takes effect from the next tick.</summary>
    public TimeSpan Period
    {
        get => _period;
        set
        {
            _period = value;
            if (_timer is { } timer)
            {
                timer.Period = value;
            }
        }
    }

    /// <summary>
    /// Reads the counters and appends one sample; returns the records written (with their sequences).
    /// <paramref name="poweringOff"/>: the workspace about to power off, whose use is recorded however short the time since its last sample.
    /// </summary>
    public IReadOnlyList<NodeAgent.Contract.V1.UsageRecord> SampleOnce(string? poweringOff = null)
    {
        lock (_sampling)
        {
            var readings = source.Read();
            var now = time.GetUtcNow();
            var sample = UsageMeter.Measure(readings, journal.Baselines, journal.LastSample, now, hostId, poweringOff);
            return journal.Append(sample.Records, sample.Baselines, now);
        }
    }

    /// <summary>
    /// A whole sample (every workspace), so the journal's entries stay whole samples; one costs a bulk stats call. Of
    /// the other workspaces, those sampled within the last second keep their baselines and give no record, so a burst
    /// of power-offs does not write a record per workspace per power-off.
    /// </summary>
    public void BeforePowerOff(string workspaceId)
    {
        try
        {
            var written = SampleOnce(workspaceId);
            LogCheckpoint(workspaceId, written.Count);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogCheckpointFailed(workspaceId, e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (journal.DiscardedBytes > 0)
        {
            LogTornTail(journal.DiscardedBytes);
        }

        using var timer = new PeriodicTimer(_period, time);
        _timer = timer;
        do
        {
            try
            {
                var written = SampleOnce();
                LogSampled(written.Count);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Nothing was written: the next sample measures from the same baselines and so covers this period too.
                LogFailed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug, Message = "usage sample: {Records} records written")]
    private partial void LogSampled(int records);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "usage journal: cut off a torn last entry of {Bytes} bytes (a crash mid-write); the next sample covers its period")]
    private partial void LogTornTail(long bytes);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "usage sample before workspace {WorkspaceId} powers off: {Records} records written")]
    private partial void LogCheckpoint(string workspaceId, int records);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "usage sample before workspace {WorkspaceId} powers off failed; its use since the last periodic sample is not recorded")]
    private partial void LogCheckpointFailed(string workspaceId, Exception e);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "usage sample failed; the next one covers this period too")]
    private partial void LogFailed(Exception e);
}
