using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Agent.Reporting;

/// <summary>
/// Sends workspace states to the scheduler. Only the newest state of each workspace is kept, and it stays
/// queued until the scheduler has accepted it, so a report is never lost while the scheduler is away.
/// </summary>
public sealed partial class StatusReporter(AgentServiceClient client, HostDescription host, TimeProvider time, ILogger<StatusReporter> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, WorkspaceStatus> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ulong> _rebootCounts = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _signal = new(0);

    /// <param name="rebootCount">The reboot requests carried out; null when not known at this point (keeps what was last reported).</param>
    /// <param name="save">How the latest save went, as the domain records it; null for none.</param>
    /// <param name="disk">The workspace's disks as just measured; null when not measured.</param>
    public void Report(string workspaceId, WorkspaceState state, string message = "", ulong? rebootCount = null,
        SaveOutcome? save = null, Disks.DiskUsage? disk = null)
    {
        var known = rebootCount ?? (_rebootCounts.TryGetValue(workspaceId, out var last) ? last : 0);
        _rebootCounts[workspaceId] = known;
        _pending[workspaceId] = new WorkspaceStatus
        {
            Id = workspaceId,
            State = state,
            Message = OneLine(message),
            ObservedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            RebootCount = known,
            DiskAllocatedBytes = (ulong)(disk?.AllocatedBytes ?? 0),
            DiskUsedBytes = (ulong)(disk?.UsedBytes ?? 0),
            Save = save is null ? null : new SaveResult
            {
                Generation = save.Generation,
                Done = true,
                Error = OneLine(save.Error),
                Sha256 = save.Sha256,
                SizeBytes = (ulong)save.SizeBytes,
            },
        };
        if (state == WorkspaceState.Gone)
        {
            _rebootCounts.TryRemove(workspaceId, out _);
        }

        _signal.Release();
    }

    /// <summary>libvirt's and tools' messages span lines; the scheduler keeps one line per reason.</summary>
    private static string OneLine(string message) => string.Join(' ', message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await _signal.WaitAsync(TimeSpan.FromSeconds(2), stoppingToken);
            var batch = _pending.ToArray();
            if (batch.Length == 0)
            {
                continue;
            }

            try
            {
                await SendAsync(batch, stoppingToken);
            }
            catch (RpcException e) when (e.Status == StatusCode.InvalidArgument && batch.Length > 1 && !stoppingToken.IsCancellationRequested)
            {
                // One report the scheduler refuses must not hold back the others: each is sent on its own.
                foreach (var one in batch)
                {
                    await SendOneAsync(one, stoppingToken);
                }
            }
            catch (RpcException e) when (e.Status == StatusCode.InvalidArgument && !stoppingToken.IsCancellationRequested)
            {
                Refused(batch[0], e);
            }
            catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
            {
                LogDeferred(logger, batch.Length, e.Status, e.Message);
            }
        }
    }

    private async Task SendAsync(KeyValuePair<string, WorkspaceStatus>[] batch, CancellationToken cancellationToken)
    {
        var request = new ReportWorkspaceStatusRequest { HostId = host.Id.Value };
        request.Statuses.Add(batch.Select(b => b.Value));
        await client.ReportWorkspaceStatusAsync(request, CallOptions.WithTimeout(TimeSpan.FromSeconds(10), cancellationToken));
        foreach (var sent in batch)
        {
            // Remove only what was sent: a newer state queued meanwhile must still go out.
            _pending.TryRemove(sent);
        }
    }

    private async Task SendOneAsync(KeyValuePair<string, WorkspaceStatus> one, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync([one], cancellationToken);
        }
        catch (RpcException e) when (e.Status == StatusCode.InvalidArgument && !cancellationToken.IsCancellationRequested)
        {
            Refused(one, e);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogDeferred(logger, 1, e.Status, e.Message);
        }
    }

    /// <summary>
    /// A report the scheduler refuses as invalid would be refused again forever: it is logged in full and dropped,
    /// and the workspace's next report (the next reconcile sends one) carries its state.
    /// </summary>
    private void Refused(KeyValuePair<string, WorkspaceStatus> report, RpcException e)
    {
        _pending.TryRemove(report);
        LogRefused(logger, report.Key, report.Value.ToString(), e.Message);
    }

    public override void Dispose()
    {
        _signal.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 211, Level = LogLevel.Error, Message = "The scheduler refused the report of workspace {WorkspaceId} as invalid; dropped: {Report}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string workspaceId, string report, string reason);

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "{Count} workspace reports kept for later: {Status}: {Reason}")]
    private static partial void LogDeferred(ILogger logger, int count, StatusCode status, string reason);
}
