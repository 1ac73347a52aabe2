using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Cli;
using NodeAgent.Cli.Commands;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Scheduler;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>ws usage run as a program against the real scheduler in process, with records a registered host shipped.</summary>
public sealed class UsageCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(emptyCatalogue: true);
        _channel = _scheduler.CreateChannel();
        await new FakeAgent(_channel, "h1").RegisterAsync();

        // alice: 90 minutes of w-aaaaaaaaaa (project genomics) and 30 of w-bbbbbbbbbb (project physics); bob: 10.
        var records = new List<UsageRecord>();
        for (var i = 1; i <= 130; i++)
        {
            var (lease, owner, project) = i <= 90 ? ("w-aaaaaaaaaa", "alice", "genomics") : i <= 120 ? ("w-bbbbbbbbbb", "alice", "physics") : ("w-cccccccccc", "bob", "bob");
            records.Add(UsageApiTests.Record((ulong)i, lease, owner, project, minute: i));
        }

        var usage = new UsageServiceClient(_channel);
        foreach (var chunk in records.Chunk(50))
        {
            await usage.ReportUsageAsync(UsageApiTests.Batch("h1", chunk));
        }
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<WsRun> WsAsync(params string[] arguments) => WsProgram.RunAsync(_scheduler.Address, "alice", null, arguments);

    private static string[] Row(string stdout, string first) => WsProgram.Row(stdout, first);

    [Fact(Timeout = 30_000)]
    public async Task Usage_ByLease_ExactTotalsPerLeaseAndOverall()
    {
        var run = await WsAsync("usage", "--since", "2026-11-02", "--until", "2026-11-03", "--by", "lease");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Equal(string.Empty, run.Stderr);
        Assert.Contains("Usage from 2026-11-02 00:00 to 2026-11-03 00:00 UTC", run.Stdout, StringComparison.Ordinal);
        // 90 one-minute records: 30 CPU-s, 20 vCPU-s, 1 GiB, 60 s on, 1000 B in, 2000 B out, 4 KiB read, 8 KiB written each.
        Assert.Equal(["w-aaaaaaaaaa", "90", "0.750", "0.500", "1.500", "1.500", "87.9 KiB", "176 KiB", "360 KiB", "720 KiB"], Row(run.Stdout, "w-aaaaaaaaaa"));
        Assert.Equal(["w-bbbbbbbbbb", "30", "0.250", "0.167", "0.500", "0.500", "29.3 KiB", "58.6 KiB", "120 KiB", "240 KiB"], Row(run.Stdout, "w-bbbbbbbbbb"));
        Assert.Equal(["total", "120", "1.000", "0.667", "2.000", "2.000", "117 KiB", "234 KiB", "480 KiB", "960 KiB"], Row(run.Stdout, "total"));
        Assert.DoesNotContain("w-cccccccccc", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_ProjectAndRange_OnlyThoseRecords()
    {
        var run = await WsAsync("usage", "--project", "physics", "--since", "2026-11-02T09:00", "--until", "2026-11-02T12:00");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("project physics", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(["30", "0.250", "0.167", "0.500", "0.500", "29.3 KiB", "58.6 KiB", "120 KiB", "240 KiB"], Row(run.Stdout, "30"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_Json_TheScheduler_sTotalsPerProject()
    {
        var run = await WsAsync("usage", "--since", "2026-11-01", "--until", "2026-12-01", "--by", "project", "-o", "json");

        Assert.Equal(ExitCodes.Ok, run.Code);
        using var json = JsonDocument.Parse(run.Stdout);
        var totals = json.RootElement.GetProperty("totals").EnumerateArray().ToList();
        Assert.Equal(["genomics", "physics"], totals.Select(t => t.GetProperty("key").GetString()));
        Assert.Equal(2700.0, totals[0].GetProperty("cpuSeconds").GetDouble());
        Assert.Equal("5400", totals[0].GetProperty("poweredOnSeconds").GetString());
        Assert.Empty(json.RootElement.GetProperty("records").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_NothingInRange_SaysSoAndSucceeds()
    {
        var run = await WsAsync("usage", "--since", "2025-01-01", "--until", "2025-02-01");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("No usage recorded in this range.", run.Stdout, StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("--since", "yesterday", "--since 'yesterday' is not a date")]
    [InlineData("--since", "2026-02-30", "is not a real date")]
    [InlineData("--by", "host", "host")]
    public async Task Usage_BadArguments_UsageError(string option, string value, string expected)
    {
        var run = await WsAsync("usage", option, value);

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_SinceAfterUntil_UsageError()
    {
        var run = await WsAsync("usage", "--since", "2026-11-03", "--until", "2026-11-02");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("is after --until", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_Help_PrintsTheManualWithExamples()
    {
        var run = await WsAsync("usage", "--help");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("MEM GIB-HOURS", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("ws usage --since 7d --by lease", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Date_FormsPeopleWrite_ReadAsUtc()
    {
        var now = new DateTimeOffset(2026, 11, 22, 10, 30, 0, TimeSpan.Zero);

        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), UsageView.Date("2026-11-01", "--since", now));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero), UsageView.Date("2026-11-01T09:00", "--since", now));
        Assert.Equal(now.AddDays(-7), UsageView.Date("7d", "--since", now));
        Assert.Equal(now.AddHours(-36), UsageView.Date("1d12h", "--since", now));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), UsageView.StartOfMonth(now));
    }
}
