using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// Once per period reads every workspace's cumulative counters and writes the difference from the previous sample to
/// the journal as usage records, with the new baselines in the same entry. The baselines come from the journal, so a
/// restarted agent measures from the last sample written: a period is neither lost (the next record covers everything
/// since that sample, however long the agent was down) nor counted twice (a sample not written left the baselines where
/// they were).
/// </summary>
public sealed partial class UsageSampler(
    IUsageSource source,
    UsageJournal journal,
    string hostId,
    TimeSpan period,
    TimeProvider time,
    ILogger<UsageSampler> logger) : BackgroundService
{
    /// <summary>Reads the counters and appends one sample; returns the records written (with their sequences).</summary>
    public IReadOnlyList<NodeAgent.Contract.V1.UsageRecord> SampleOnce()
    {
        var readings = source.Read();
        var now = time.GetUtcNow();
        var sample = UsageMeter.Measure(readings, journal.Baselines, journal.LastSample, now, hostId);
        return journal.Append(sample.Records, sample.Baselines, now);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (journal.DiscardedBytes > 0)
        {
            LogTornTail(journal.DiscardedBytes);
        }

        using var timer = new PeriodicTimer(period, time);
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

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "usage sample failed; the next one covers this period too")]
    private partial void LogFailed(Exception e);
}
