using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Cli;
using NodeAgent.Cli.Commands;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>How <c>ws hosts drain --deadline</c> reads a deadline.</summary>
public sealed class DrainDeadlineTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 2, 9, 30, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("2h", "2026-11-02T11:30:00Z")]
    [InlineData("1d12h", "2026-11-03T21:30:00Z")]
    [InlineData("2026-11-03", "2026-11-03T00:00:00Z")]
    [InlineData("2026-11-02T18:00", "2026-11-02T18:00:00Z")]
    public void Deadline_DurationFromNowOrUtcDate_ThatTime(string text, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), HostAdminCommands.Deadline(text, Now));

    [Theory]
    [InlineData("-2h", "neither a duration from now nor a date")]
    [InlineData("soon", "neither a duration from now nor a date")]
    [InlineData("2026-11-31", "not a real date")]
    [InlineData("2026-11-01", "not after now")]
    [InlineData("0s", "not after now")]
    public void Deadline_MalformedOrPast_UsageErrorNamingTheOption(string text, string expected)
    {
        var error = Assert.Throws<UsageException>(() => HostAdminCommands.Deadline(text, Now));

        Assert.Contains("--deadline", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>ws hosts (and its alias ws host) run as a program against the real scheduler in process.</summary>
public sealed class HostCommandTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { DrainCheckInterval = TimeSpan.FromHours(1) }, _clock, emptyCatalogue: true);
        _channel = _scheduler.CreateChannel();
        await new FakeAgent(_channel, "h1").RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<WsRun> WsAsync(params string[] arguments) => WsProgram.RunAsync(_scheduler.Address, "alice", null, arguments);

    private static string[] Row(string stdout, string first) => WsProgram.Row(stdout, first);

    [Fact(Timeout = 60_000)]
    public async Task Disable_ThenListAndShow_AdminColumnAndWhoWhyWhen()
    {
        var disable = await WsAsync("hosts", "disable", "h1", "--reason", "ECC errors");
        var list = await WsAsync("hosts", "list");
        var show = await WsAsync("host", "show", "h1");

        Assert.Equal((ExitCodes.Ok, string.Empty), (disable.Code, disable.Stderr));
        Assert.Equal("Host h1 is disabled: no new workspaces are placed on it; those it runs keep running.\n", disable.Stdout);
        Assert.Equal(["HOST", "HEALTH", "ADMIN", "VCPUS", "MEMORY", "CPU USED", "MEM FREE", "LAST HEARTBEAT"], Row(list.Stdout, "HOST"));
        Assert.Equal(["h1", "up", "disabled"], Row(list.Stdout, "h1")[..3]);
        Assert.Contains("Admin:           disabled — ECC errors\n", show.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Admin since:     {_clock.GetUtcNow():u}, by alice\n", show.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Drain deadline", show.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Drain_WithDuration_JsonHasTheStateAndDeadline_ShowHasTheDeadline()
    {
        var before = DateTimeOffset.UtcNow;
        var drain = await WsAsync("hosts", "drain", "h1", "--deadline", "2h", "--reason", "kernel upgrade", "-o", "json");
        var after = DateTimeOffset.UtcNow;
        var show = await WsAsync("hosts", "show", "h1");

        Assert.Equal((ExitCodes.Ok, string.Empty), (drain.Code, drain.Stderr));
        using var json = JsonDocument.Parse(drain.Stdout);
        var root = json.RootElement;
        Assert.Equal("HOST_ADMIN_STATE_DRAINING", root.GetProperty("adminState").GetString());
        Assert.Equal("kernel upgrade", root.GetProperty("adminReason").GetString());
        Assert.Equal("alice", root.GetProperty("adminChangedBy").GetString());
        var deadline = root.GetProperty("drainDeadline").GetDateTimeOffset();
        Assert.InRange(deadline, before.AddHours(2).AddSeconds(-1), after.AddHours(2));
        Assert.Contains($"Drain deadline:  {deadline:u}\n", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("Admin:           draining — kernel upgrade", show.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Drain_AtADate_TableSaysUntilWhen_ThenEnable()
    {
        var date = _clock.GetUtcNow().UtcDateTime.Date.AddDays(2);
        var drain = await WsAsync("hosts", "drain", "h1", "--deadline", date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        var enable = await WsAsync("hosts", "enable", "h1");

        Assert.Equal(ExitCodes.Ok, drain.Code);
        Assert.StartsWith($"Host h1 is draining until {date:yyyy-MM-dd} 00:00:00Z", drain.Stdout, StringComparison.Ordinal);
        Assert.Equal((ExitCodes.Ok, "Host h1 is enabled: new workspaces may be placed on it.\n"), (enable.Code, enable.Stdout));
    }

    [Fact(Timeout = 60_000)]
    public async Task Drain_MalformedDeadline_ExitsTwoBeforeAsking()
    {
        var run = await WsAsync("hosts", "drain", "h1", "--deadline", "tomorrow");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("--deadline 'tomorrow'", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Drain_MissingDeadline_ExitsTwo()
    {
        var run = await WsAsync("hosts", "drain", "h1");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("--deadline", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Drain_TooFarAhead_ExitsOneWithTheSchedulersLimit()
    {
        var run = await WsAsync("hosts", "drain", "h1", "--deadline", "45d");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("at most 30 days ahead", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Disable_UnknownHost_ExitsOneSayingItIsNotRegistered()
    {
        var run = await WsAsync("hosts", "disable", "ghost");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("host ghost is not registered", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task SilentHost_ListAndShowSayUnreachable()
    {
        _clock.Advance(TimeSpan.FromSeconds(47));

        var list = await WsAsync("hosts", "list");
        var show = await WsAsync("hosts", "show", "h1");

        Assert.Equal(["h1", "unreachable", "enabled"], Row(list.Stdout, "h1")[..3]);
        Assert.Contains("Health:          unreachable — no heartbeat for 47 s\n", show.Stdout, StringComparison.Ordinal);
    }
}
