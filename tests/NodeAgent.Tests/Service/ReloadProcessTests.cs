using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Scheduler;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>
/// Configuration files with the real daemons: SIGHUP (what `systemctl reload` sends) applies a changed file while
/// they run, or keeps them as they were when the file is wrong; a wrong file at start is refused with every problem.
/// </summary>
public sealed class ReloadProcessTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string ConfigFile => Path.Combine(_directory.Path, "daemon.conf");

    [Fact(Timeout = 120_000)]
    public async Task Agent_SighupWithNewCapacityAndLabels_ReachesTheSchedulerAtTheNextHeartbeat()
    {
        await using var scheduler = await RunningScheduler.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatTtl = TimeSpan.FromSeconds(5) });
        using var channel = scheduler.CreateChannel();
        var hosts = new HostServiceClient(channel);
        using var notify = NotifySocket.Abstract();
        await File.WriteAllTextAsync(ConfigFile, "cpu-overcommit = 1\nlabel = rack=r1\n");
        await using var agent = ServiceProcesses.StartAgent(scheduler.Address, _directory.Path, "reload-host",
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Address }, "--config", ConfigFile);
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => agent.Output);
        var before = await WaitForHostAsync(hosts, h => h.Info.Labels["rack"] == "r1");

        await File.WriteAllTextAsync(ConfigFile, "cpu-overcommit = 3\nlabel = rack=r2\nstop-timeout = 00:00:05\nreconcile-interval = 00:00:10\n");
        await ServiceProcesses.SignalAsync(agent, "HUP");
        var reloading = await notify.WaitForAsync(m => m.StartsWith("RELOADING=1", StringComparison.Ordinal), Timeout, context: () => agent.Output);
        var readyAgain = await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, count: 2, context: () => agent.Output);
        var after = await WaitForHostAsync(hosts, h => h.Info.Capacity.Vcpus == before.Info.Capacity.Vcpus * 3 && h.Info.Labels["rack"] == "r2");

        Assert.Contains("\nMONOTONIC_USEC=", reloading, StringComparison.Ordinal);
        Assert.Equal("READY=1\nSTATUS=0 workspaces, scheduler connected", readyAgain);
        Assert.Equal(before.Info.Capacity.MemoryBytes, after.Info.Capacity.MemoryBytes);
        Assert.Contains("applied cpu-overcommit, label, stop-timeout", agent.Output, StringComparison.Ordinal);
        Assert.Contains("only applied at the next restart: reconcile-interval", agent.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Agent_SighupWithABrokenFile_LogsEveryProblemAndKeepsRunning()
    {
        using var notify = NotifySocket.Abstract();
        await File.WriteAllTextAsync(ConfigFile, "stop-timeout = 00:00:30\n");
        await using var agent = ServiceProcesses.StartAgent(ServiceProcesses.UnreachableScheduler(), _directory.Path, "broken-host",
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Address }, "--config", ConfigFile);
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => agent.Output);

        await File.WriteAllTextAsync(ConfigFile, "cpu-overcommit = lots\nbogus = 1\nstop-timeout = 02:00:00\n");
        await ServiceProcesses.SignalAsync(agent, "HUP");
        await agent.WaitForLineAsync("Reload refused", Timeout);
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, count: 2, context: () => agent.Output);
        await File.WriteAllTextAsync(ConfigFile, "stop-timeout = 00:00:20\n");
        await ServiceProcesses.SignalAsync(agent, "HUP");
        var reloaded = await agent.WaitForLineAsync("Reloaded the configuration", Timeout);

        Assert.Contains($"Reload: {ConfigFile}:1: cpu-overcommit = lots: ", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"Reload: {ConfigFile}:2: unknown key 'bogus'", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"Reload: {ConfigFile}:3: stop-timeout: 02:00:00 is outside 0–1 hour", agent.Output, StringComparison.Ordinal);
        Assert.EndsWith("applied stop-timeout", reloaded, StringComparison.Ordinal);
        Assert.False(agent.HasExited);
    }

    [Fact(Timeout = 120_000)]
    public async Task Scheduler_SighupWithNewTtl_AppliesItAndNamesWhatNeedsARestart()
    {
        await File.WriteAllTextAsync(ConfigFile, "heartbeat-ttl = 00:00:15\n");
        await using var scheduler = ServiceProcesses.StartScheduler(_directory.Path, null, "--config", ConfigFile);
        var address = await ServiceProcesses.AddressOfAsync(scheduler);
        using var channel = new RpcChannel(address);
        var agents = new AgentServiceClient(channel);

        await File.WriteAllTextAsync(ConfigFile, "heartbeat-ttl = 00:00:40\nheartbeat-interval = 00:00:10\nplacement-strategy = pack\n");
        await ServiceProcesses.SignalAsync(scheduler, "HUP");
        var reloaded = await scheduler.WaitForLineAsync("Reloaded the configuration", Timeout);
        var registered = await agents.RegisterHostAsync(new RegisterHostRequest { Host = HostApiTests.Info("ttl-host") });

        Assert.EndsWith("applied heartbeat-ttl, placement-strategy", reloaded, StringComparison.Ordinal);
        Assert.Contains("only applied at the next restart: heartbeat-interval", scheduler.Output, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(40), registered.HeartbeatTtl.ToTimeSpan());
        Assert.Equal(TimeSpan.FromSeconds(5), registered.HeartbeatInterval.ToTimeSpan());
    }

    [Fact(Timeout = 120_000)]
    public async Task Agent_StartWithAWrongFile_ExitsTwoListingEveryProblemWithItsLine()
    {
        await File.WriteAllTextAsync(ConfigFile, "reserved-vcpus = -1\nimage-cache-size = huge\nmetrics-listen\nnetwork = Bad\n");
        await using var agent = ServiceProcesses.StartAgent(ServiceProcesses.UnreachableScheduler(), _directory.Path, "wrong-host", null, "--config", ConfigFile);

        var code = await agent.WaitForExitAsync(Timeout);

        Assert.Equal(2, code);
        Assert.Contains("nodeagent: invalid configuration (4 problems):", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:1: reserved-vcpus: -1 is negative", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:2: --image-cache-size 'huge' is not a size", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:3: 'metrics-listen' is not `key = value`", agent.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:4: network 'Bad'", agent.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Scheduler_StartWithAWrongFile_ExitsTwoListingEveryProblemWithItsLine()
    {
        await File.WriteAllTextAsync(ConfigFile, "heartbeat-interval = 00:00:10\nheartbeat-ttl = 00:00:15\nplacement-strategy = random\nexpiry-grace: 1\n");
        await using var scheduler = ServiceProcesses.StartScheduler(_directory.Path, null, "--config", ConfigFile);

        var code = await scheduler.WaitForExitAsync(Timeout);

        Assert.Equal(2, code);
        Assert.Contains("nodeagent-scheduler: invalid configuration (3 problems):", scheduler.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:2: heartbeat-ttl: 00:00:15 must be at least twice heartbeat-interval", scheduler.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:3: placement-strategy: placement strategy 'random' is neither pack nor spread", scheduler.Output, StringComparison.Ordinal);
        Assert.Contains($"{ConfigFile}:4: 'expiry-grace: 1' is not `key = value`", scheduler.Output, StringComparison.Ordinal);
    }

    private static async Task<Host> WaitForHostAsync(HostServiceClient hosts, Func<Host, bool> match)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        Host? last = null;
        while (!cancel.IsCancellationRequested)
        {
            last = (await hosts.ListHostsAsync(new ListHostsRequest())).Hosts.SingleOrDefault();
            if (last is not null && match(last))
            {
                return last;
            }

            await Task.Delay(100, CancellationToken.None);
        }

        throw new TimeoutException($"the scheduler's host did not become as expected within {Timeout.TotalSeconds:0} s; last seen: {last}");
    }
}
