using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>ws given several scheduler addresses, as a program against the real scheduler: a dead first one is passed over.</summary>
public sealed class SchedulerFailoverCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;

    public async Task InitializeAsync() => _scheduler = await RunningScheduler.StartAsync();

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();


    [Fact(Timeout = 60_000)]
    public async Task WsList_FirstAddressDead_AnswersFromTheNext()
    {
        var run = await WsProgram.RunAsync(_scheduler.Address, "alice", null, "--scheduler", $"{DeadAddress.Next().ToString().TrimEnd('/')},{_scheduler.Address}", "list");

        Assert.True(run.Code == 0, run.Stderr);
        Assert.Empty(run.Stderr);
    }

    [Fact(Timeout = 60_000)]
    public async Task WsList_EveryAddressDead_ExitsUnavailableNamingEach()
    {
        var (a, b) = (DeadAddress.Next().ToString().TrimEnd('/'), DeadAddress.Next().ToString().TrimEnd('/'));

        var run = await WsProgram.RunAsync(_scheduler.Address, "alice", null, "--scheduler", $"{a},{b}", "list");

        Assert.NotEqual(0, run.Code);
        Assert.Contains(a, run.Stderr, StringComparison.Ordinal);
        Assert.Contains(b, run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--scheduler", run.Stderr, StringComparison.Ordinal);
    }
}
