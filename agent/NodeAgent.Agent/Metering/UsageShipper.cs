using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// Sends the journal's records to the scheduler, lowest sequence first, at most <see cref="MaxBatch"/> per call, and
/// drops them from the journal once the scheduler acknowledges them. A failed call (scheduler down, network
/// partition, an answer lost after the scheduler stored the records) keeps every record and tries again after a
/// backoff; the scheduler stores each (host, journal epoch, sequence) once, so what is sent again is not counted again.
/// </summary>
public sealed partial class UsageShipper(
    UsageJournal journal,
    UsageServiceClient client,
    string hostId,
    Backoff backoff,
    Func<TimeSpan, CancellationToken, Task> delay,
    TimeSpan idleWait,
    ILogger<UsageShipper> logger) : BackgroundService
{
    /// <summary>The most records one ReportUsage call carries.</summary>
    public const int MaxBatch = 500;

    /// <summary>How long one call may take before it counts as failed.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>
    /// Sends one batch, if there is one, and acknowledges what the scheduler says it stored. Returns how many records
    /// left the journal. Throws what the call threw (the records stay).
    /// </summary>
    public async Task<int> ShipOnceAsync(CancellationToken cancellationToken)
    {
        var batch = journal.Pending(MaxBatch);
        if (batch.Count == 0)
        {
            return 0;
        }

        var request = new ReportUsageRequest { HostId = hostId, JournalEpoch = journal.Epoch };
        request.Records.AddRange(batch);
        var before = journal.AcknowledgedSequence;
        var response = await client.ReportUsageAsync(request, CallOptions.WithTimeout(CallTimeout, cancellationToken)).ConfigureAwait(false);
        // Only what was sent is acknowledged: records numbered later are not the scheduler's yet.
        journal.Acknowledge(Math.Min(response.AcknowledgedSequence, batch[^1].Sequence));
        return (int)(journal.AcknowledgedSequence - before);
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        journal.Appended += Wake;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                int shipped;
                try
                {
                    shipped = await ShipOnceAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    var wait = backoff.Next();
                    LogFailed(journal.PendingCount, wait, e.Message);
                    await delay(wait, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                if (shipped > 0)
                {
                    backoff.Reset();
                    LogShipped(shipped, journal.AcknowledgedSequence);
                    continue;
                }

                if (journal.PendingCount > 0)
                {
                    // Sent, but the scheduler stored none of it (it acknowledged less than the batch): try again later.
                    await delay(backoff.Next(), stoppingToken).ConfigureAwait(false);
                    continue;
                }

                await _wake.WaitAsync(idleWait, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            journal.Appended -= Wake;
        }
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
        {
        }
    }

    [LoggerMessage(EventId = 1210, Level = LogLevel.Debug, Message = "usage: {Records} records stored by the scheduler, acknowledged up to {Sequence}")]
    private partial void LogShipped(int records, ulong sequence);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Warning, Message = "usage: could not ship {Pending} records ({Reason}); kept on disk, trying again in {Wait}")]
    private partial void LogFailed(int pending, TimeSpan wait, string reason);
}
