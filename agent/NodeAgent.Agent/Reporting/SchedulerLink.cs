using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Agent.Reporting;

/// <summary>
/// The agent's conversation with the scheduler: register, then heartbeat and watch the desired set until
/// either fails; then back off and register again. Losing the scheduler never touches running workspaces.
/// </summary>
public sealed partial class SchedulerLink(
    AgentServiceClient client,
    HeartbeatSource source,
    DesiredState desired,
    Random random,
    TimeProvider time,
    ILogger<SchedulerLink> logger,
    Metrics.AgentMetrics? metrics = null,
    SchedulerConnection? connection = null) : BackgroundService
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = new Backoff(random, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(15));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var interval = await RegisterAsync(stoppingToken);
                backoff.Reset();
                await RunSessionAsync(interval, stoppingToken);
            }
            catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
            {
                metrics?.SchedulerConnected.Set(0);
                connection?.Lost(e.Message);
                var delay = backoff.Next();
                LogSchedulerLost(logger, client.Channel.Address, e.Status, e.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, time, stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task<TimeSpan> RegisterAsync(CancellationToken cancellationToken)
    {
        var info = source.Registration();
        var response = await client.RegisterHostAsync(new RegisterHostRequest { Host = info }, CallOptions.WithTimeout(CallTimeout, cancellationToken));
        var interval = response.HeartbeatInterval?.ToTimeSpan() is { } i && i > TimeSpan.Zero ? i : TimeSpan.FromSeconds(5);
        LogRegistered(logger, info.HostId, client.Channel.Address, interval.TotalSeconds);
        metrics?.SchedulerConnected.Set(1);
        connection?.Registered();
        return interval;
    }

    private async Task RunSessionAsync(TimeSpan interval, CancellationToken stoppingToken)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var heartbeats = HeartbeatLoopAsync(interval, session.Token);
        var watch = WatchAsync(session.Token);
        var first = await Task.WhenAny(heartbeats, watch);
        await session.CancelAsync();
        try
        {
            await Task.WhenAll(heartbeats, watch);
        }
        catch (RpcException) when (first.IsCompletedSuccessfully is false)
        {
            // The other loop ends with CANCELLED because this session was cancelled; the first failure counts.
        }
        catch (OperationCanceledException)
        {
        }

        await first;
        if (!stoppingToken.IsCancellationRequested)
        {
            throw new RpcException(StatusCode.Unavailable, "the scheduler ended the desired-set stream");
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            await client.HeartbeatAsync(source.Heartbeat(), CallOptions.WithTimeout(CallTimeout, cancellationToken));
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var request = new WatchDesiredWorkspacesRequest { HostId = source.HostId };
        await foreach (var set in client.WatchDesiredWorkspacesAsync(request, new CallOptions { CancellationToken = cancellationToken }))
        {
            LogDesired(logger, set.Version, set.Workspaces.Count);
            desired.Publish(set);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Registered as host {HostId} with scheduler {Scheduler}; heartbeat every {IntervalSeconds} s")]
    private static partial void LogRegistered(ILogger logger, string hostId, Uri scheduler, double intervalSeconds);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "Talking to scheduler {Scheduler} failed ({Status}: {Reason}); workspaces keep running; retrying in {DelayMs:0} ms")]
    private static partial void LogSchedulerLost(ILogger logger, Uri scheduler, StatusCode status, string reason, double delayMs);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Desired set version {Version}: {Count} workspaces")]
    private static partial void LogDesired(ILogger logger, ulong version, int count);
}
