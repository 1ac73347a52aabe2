using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli;
using NodeAgent.Cli.Commands;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>ws quota (and ws lease refused by a quota) run as programs against the real scheduler in process, with one host played over the agent protocol.</summary>
public sealed class QuotaCommandTests : IAsyncLifetime
{
    private readonly TempDirectory _home = new();
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = new RpcChannel(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new NodeAgent.Rpc.Metadata { { "x-nodeagent-user", "alice" } } });
        await new FakeAgent(_channel, "h1").RegisterAsync(vcpus: 16);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _home.Dispose();
    }

    private Task<WsRun> WsAsync(string user, params string[] arguments) =>
        WsProgram.RunAsync(_scheduler.Address, user, new Dictionary<string, string> { ["HOME"] = _home.Path }, arguments);

    private static string[] Row(string stdout, string first) => WsProgram.Row(stdout, first);

    /// <summary>alice holds one lease of 2 vCPUs and 1 GiB for 2 hours: 4 core-hours charged up front.</summary>
    private Task<Lease> LeaseAsync() => new LeaseServiceClient(_channel).CreateLeaseAsync(new CreateLeaseRequest
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 2, MemoryBytes = 1UL << 30 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
    });

    [Fact(Timeout = 60_000)]
    public async Task SetShowList_DefaultAndOwnLimits_PrintedWithUseAndWhereEachComesFrom()
    {
        var setDefault = await WsAsync("admin", "quota", "set", "*", "--vcpus", "16", "--memory", "64G", "--workspaces", "8", "--max-duration", "7d");
        var setAlice = await WsAsync("admin", "quota", "set", "alice", "--vcpus", "32", "--core-hours", "1000", "--period", "30d");
        Assert.Equal(LeaseState.Starting, (await LeaseAsync()).State);

        var show = await WsAsync("alice", "quota", "show");
        var list = await WsAsync("alice", "quota", "list");
        var showDefault = await WsAsync("alice", "quota", "show", "*");

        Assert.Equal((ExitCodes.Ok, string.Empty), (setDefault.Code, setDefault.Stderr));
        Assert.Equal(["vCPUs", "16"], Row(setDefault.Stdout, "vCPUs"));
        Assert.Equal((ExitCodes.Ok, string.Empty), (setAlice.Code, setAlice.Stderr));
        Assert.Equal((ExitCodes.Ok, string.Empty), (show.Code, show.Stderr));
        Assert.StartsWith("Quota of project alice\n", show.Stdout, StringComparison.Ordinal);
        Assert.Equal(["vCPUs", "2", "32", "own"], Row(show.Stdout, "vCPUs"));
        Assert.Equal(["memory", "1 GiB", "64 GiB", "default"], Row(show.Stdout, "memory"));
        Assert.Equal(["workspaces", "1", "8", "default"], Row(show.Stdout, "workspaces"));
        Assert.Equal(["core-hours", "4", "1000 per 30d", "own"], Row(show.Stdout, "core-hours"));
        Assert.Equal(["lease duration", "-", "at most 7d", "default"], Row(show.Stdout, "lease duration"));
        Assert.Contains("(30d ago) on, and live leases count until they expire.", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("by admin.", show.Stdout, StringComparison.Ordinal);
        Assert.Equal((ExitCodes.Ok, string.Empty), (list.Code, list.Stderr));
        Assert.Equal(["*", "16", "64 GiB", "8", "unlimited", "7d", "admin"], Row(list.Stdout, "*"));
        Assert.Equal(["alice", "2/32", "1 GiB/64 GiB", "1/8", "4/1000 per 30d", "7d", "admin"], Row(list.Stdout, "alice"));
        Assert.StartsWith("Default quota:", showDefault.Stdout, StringComparison.Ordinal);
        Assert.Equal(["memory", "64 GiB"], Row(showDefault.Stdout, "memory"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_Json_TheSchedulersQuotaAsIs()
    {
        await new QuotaServiceClient(_channel).SetQuotaAsync(new SetQuotaRequest { Project = "alice", Limits = new QuotaLimits { MaxWorkspaces = 3 } });
        await LeaseAsync();

        var run = await WsAsync("bob", "quota", "show", "alice", "-o", "json");

        Assert.Equal((ExitCodes.Ok, string.Empty), (run.Code, run.Stderr));
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("alice", json.RootElement.GetProperty("project").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("limits").GetProperty("maxWorkspaces").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("limits").GetProperty("maxVcpus").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("use").GetProperty("vcpus").GetInt32());
        Assert.False(json.RootElement.GetProperty("own").TryGetProperty("maxVcpus", out _));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("nothing to change", "quota", "set", "alice")]
    [InlineData("--memory 'lots' is not a size", "quota", "set", "alice", "--memory", "lots")]
    [InlineData("--vcpus '1.5' is not a whole number", "quota", "set", "alice", "--vcpus", "1.5")]
    [InlineData("PROJECT 'Alice' has 'A' at position 0", "quota", "set", "Alice", "--vcpus", "1")]
    [InlineData("--max-duration 'forever' is not a duration", "quota", "set", "alice", "--max-duration", "forever")]
    public async Task Set_Malformed_UsageErrorSayingWhatIsWrong(string expected, params string[] arguments)
    {
        var run = await WsAsync("admin", arguments);

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Set_BudgetWithoutAnyPeriod_RefusedByTheSchedulerSayingToGiveOne()
    {
        var run = await WsAsync("admin", "quota", "set", "bob", "--core-hours", "10");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Equal("ws: a budget of 10 core-hours needs a period it is spent in; give one, e.g. --period 30d (period in SetQuota)\n", run.Stderr);
    }

    [Fact(Timeout = 30_000)]
    public async Task Lease_LongerThanTheProjectsMaximum_FailsWithTheRefusal()
    {
        await new QuotaServiceClient(_channel).SetQuotaAsync(new SetQuotaRequest { Project = "*", Limits = new QuotaLimits { MaxLeaseDuration = Duration.FromTimeSpan(TimeSpan.FromDays(7)) } });

        var run = await WsAsync("alice", "lease", "--image", "debian-12", "--memory", "256M", "--duration", "10d", "--no-wait");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("failed: the lease asks 10d, project alice may lease at most 7d; ask for at most 7d (ws quota show alice)", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task SetHelp_ManualWithExamples()
    {
        var run = await WsAsync("admin", "quota", "set", "--help");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("--core-hours needs a period", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("ws quota set '*' --vcpus 16 --memory 64G --workspaces 8 --max-duration 7d", run.Stdout, StringComparison.Ordinal);
    }
}

/// <summary>How ws quota reads limits and writes durations, in process.</summary>
public sealed class QuotaViewTests
{
    [Theory]
    [InlineData("16", 16u)]
    [InlineData("0", 0u)]
    [InlineData("unlimited", 0u)]
    [InlineData("Unlimited", 0u)]
    public void Count_NumberOrUnlimited(string text, uint expected) => Assert.Equal(expected, QuotaView.Count(text, "--vcpus"));

    [Theory]
    [InlineData("64G", 64UL << 30)]
    [InlineData("unlimited", 0UL)]
    public void Size_SizeOrUnlimited(string text, ulong expected) => Assert.Equal(expected, QuotaView.Size(text, "--memory"));

    [Theory]
    [InlineData("1000", 1000.0)]
    [InlineData("2.5", 2.5)]
    [InlineData("unlimited", 0.0)]
    public void CoreHours_NumberOrUnlimited(string text, double expected) => Assert.Equal(expected, QuotaView.CoreHours(text, "--core-hours"));

    [Theory]
    [InlineData("1e3")]
    [InlineData("-5")]
    [InlineData("NaN")]
    public void CoreHours_NotAPlainNumber_UsageError(string text) => Assert.Throws<UsageException>(() => QuotaView.CoreHours(text, "--core-hours"));

    [Fact]
    public void Span_UnlimitedOnlyWhereAllowed()
    {
        Assert.Equal(TimeSpan.Zero, QuotaView.Span("unlimited", "--max-duration", unlimitedAllowed: true));
        Assert.Throws<UsageException>(() => QuotaView.Span("unlimited", "--period", unlimitedAllowed: false));
    }

    [Theory]
    [InlineData(7 * 86400, "7d")]
    [InlineData(36 * 3600, "1d12h")]
    [InlineData(90 * 60, "1h30m")]
    [InlineData(0, "0s")]
    public void Span_WrittenAsWsReadsIt(int seconds, string expected) => Assert.Equal(expected, QuotaView.Span(TimeSpan.FromSeconds(seconds)));
}
