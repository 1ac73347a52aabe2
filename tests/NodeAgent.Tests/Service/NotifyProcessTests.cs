using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>
/// The real daemons tell a notify socket (standing in for systemd, which does not run here) that they are ready,
/// how they are, that they are alive and that they stop.
/// </summary>
public sealed class NotifyProcessTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact(Timeout = 120_000)]
    public async Task Scheduler_UnderSystemd_IsReadyPingsTheWatchdogAndSaysItStops()
    {
        using var notify = NotifySocket.AtPath(_directory.Path);
        await using var scheduler = ServiceProcesses.StartScheduler(_directory.Path, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Address,
            ["WATCHDOG_USEC"] = "400000",
        });

        var ready = await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => scheduler.Output);
        // Eight pings take twice the watchdog interval at least: the expiry loop kept marking progress all along.
        await notify.WaitForAsync(m => m == "WATCHDOG=1", Timeout, count: 8, context: () => scheduler.Output);
        await scheduler.SignalAndWaitAsync("TERM", Timeout);

        Assert.Equal("READY=1\nSTATUS=0 of 0 hosts up, 0 live leases (0 queued)", ready);
        Assert.Equal("STOPPING=1\nSTATUS=stopping", notify.Messages[^1]);
        Assert.Equal(0, await scheduler.WaitForExitAsync(Timeout));
    }

    [Fact(Timeout = 120_000)]
    public async Task Agent_WithAbstractNotifySocket_IsReadyOnceRegisteredAndReportsLosingTheScheduler()
    {
        var scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        using var notify = NotifySocket.Abstract();
        await using var agent = ServiceProcesses.StartAgent(scheduler.Address, _directory.Path, "notify-host", new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Address });
        string ready;
        try
        {
            ready = await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => agent.Output);
        }
        finally
        {
            await scheduler.DisposeAsync();
        }

        var lost = await notify.WaitForAsync(m => m.Contains("scheduler unreachable", StringComparison.Ordinal), Timeout, context: () => agent.Output);
        await agent.SignalAndWaitAsync("TERM", Timeout);

        Assert.Equal("READY=1\nSTATUS=0 workspaces, scheduler connected", ready);
        Assert.Equal("STATUS=0 workspaces, scheduler unreachable", lost);
        Assert.Equal("STOPPING=1\nSTATUS=stopping", notify.Messages[^1]);
    }

    [Fact(Timeout = 120_000)]
    public async Task Agent_WithSchedulerUnreachableAndAWatchdog_IsReadyAndPingsWhileItsReconcilerWaits()
    {
        using var notify = NotifySocket.Abstract();
        await using var agent = ServiceProcesses.StartAgent(ServiceProcesses.UnreachableScheduler(), _directory.Path, "watchdog-host", new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Address,
            ["WATCHDOG_USEC"] = "400000",
        });

        var ready = await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => agent.Output);
        // The reconciler waits up to --reconcile-interval (30 s) between passes; eight pings span twice the watchdog
        // interval at least, so its wait must have woken and marked progress on its own.
        await notify.WaitForAsync(m => m == "WATCHDOG=1", Timeout, count: 8, context: () => agent.Output);

        Assert.Equal("READY=1\nSTATUS=0 workspaces, scheduler unreachable", ready);
        Assert.Contains("systemd watchdog every 0.4 s", agent.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Scheduler_WithSystemdLogFormat_PrefixesEveryLogLineWithItsPriority()
    {
        await using var scheduler = ServiceProcesses.StartScheduler(_directory.Path, null, "--log-format", "systemd", "--log-level", "debug");

        var ready = await scheduler.WaitForLineAsync("Ready:", Timeout);

        Assert.StartsWith("<6>NodeAgent.Service.ServiceNotifications[9000] Ready: 0 of 0 hosts up", ready, StringComparison.Ordinal);
        Assert.Contains("<7>", scheduler.Output, StringComparison.Ordinal);
    }
}
