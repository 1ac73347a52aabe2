using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>How ws reads the moments people write (--start): local time, UTC, offsets, and the times clocks skip.</summary>
public sealed class MomentParsingTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Theory]
    [InlineData("2026-12-01T09:00", "2026-12-01T08:00:00Z")]
    [InlineData("2026-12-01 09:00:30", "2026-12-01T08:00:30Z")]
    [InlineData("2026-07-01T09:00", "2026-07-01T07:00:00Z")]
    [InlineData("2026-12-01", "2026-11-30T23:00:00Z")]
    [InlineData("2026-12-01T09:00Z", "2026-12-01T09:00:00Z")]
    [InlineData("2026-12-01T09:00+05:30", "2026-12-01T03:30:00Z")]
    [InlineData("2026-12-01T09:00-03:00", "2026-12-01T12:00:00Z")]
    public void Moment_AsPeopleWriteIt_ThatInstant(string text, string utc) =>
        Assert.Equal(DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture), Parsing.Moment(text, "--start", Berlin));

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("2026-13-01T09:00")]
    [InlineData("2026-12-01T25:00")]
    [InlineData("2026-12-01T09:00+15:00")]
    [InlineData("01.12.2026 09:00")]
    public void Moment_Malformed_UsageErrorNamingTheOptionAndAnExample(string text)
    {
        var error = Assert.Throws<UsageException>(() => Parsing.Moment(text, "--start", Berlin));

        Assert.Contains($"--start '{text}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("2026-12-01T09:00Z", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Moment_LocalTimeTheClocksSkip_UsageErrorSuggestingUtc()
    {
        var error = Assert.Throws<UsageException>(() => Parsing.Moment("2026-03-29T02:30", "--start", Berlin));

        Assert.Contains("does not exist in the time zone Europe/Berlin", error.Message, StringComparison.Ordinal);
        Assert.Contains("2026-03-29T02:30Z", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>`ws lease --best-effort`, `--start`, `ws list`, `ws show` and `ws extend` run as programs against the real scheduler in process.</summary>
public sealed class LeaseKindsCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private FakeAgent _agent = null!;
    private Lease _filler = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _agent = new FakeAgent(_channel, "h1");
        await _agent.RegisterAsync(vcpus: 2);
        _filler = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 2, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private ProcessStartInfo Ws(params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["WS_SCHEDULER"] = _scheduler.Address.ToString();
        start.Environment["USER"] = "alice";
        return start;
    }

    private async Task<(int Code, string Stdout, string Stderr)> WsAsync(params string[] arguments)
    {
        using var process = Process.Start(Ws(arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm'Z'", System.Globalization.CultureInfo.InvariantCulture);

    [Fact(Timeout = 30_000)]
    public async Task LeaseBestEffort_NoWait_ShowsWhyItWaitsAndItsPlace()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--best-effort", "--duration", "3h", "--no-wait");

        Assert.True(code == 0, stderr);
        Assert.Contains("State:     pending — waiting: no host can take it: 1 host: insufficient vCPUs\n", stdout, StringComparison.Ordinal);
        Assert.Contains("Kind:      best-effort — 1st in project alice's queue since ", stdout, StringComparison.Ordinal);
        Assert.Contains("; runs 3h once placed\n", stdout, StringComparison.Ordinal);
        Assert.Contains("(gives up waiting in 24h)", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task LeaseBestEffort_Waiting_FollowsTheQueueUntilTheWorkspaceRuns()
    {
        using var process = Process.Start(Ws("lease", "--image", "debian-12", "--memory", "512M", "--best-effort"))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var first = await process.StandardError.ReadLineAsync();
        while (first is not null && !first.Contains("queued", StringComparison.Ordinal))
        {
            // e.g. that no SSH key was found: not what this test is about.
            first = await process.StandardError.ReadLineAsync();
        }

        var queued = (await _leases.ListLeasesAsync(new ListLeasesRequest())).Leases.Single(l => l.Owner == "alice");

        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = _filler.Id });
        await _agent.ReportAsync(_filler.Id, WorkspaceState.Gone);
        await _agent.WaitForSpecAsync(queued.Id, _ => true, TimeSpan.FromSeconds(10));
        await _agent.ReportAsync(queued.Id, WorkspaceState.Running);
        var rest = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, first + rest);
        Assert.Matches(@"^\s+[0-9.]+s  queued    1st in project alice's queue; waiting: no host can take it: 1 host: insufficient vCPUs$", first ?? "(no line)");
        Assert.Contains("running   running on h1", rest, StringComparison.Ordinal);
        Assert.Contains("State:     running", await stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task LeaseStart_ReservesAndReturnsAtOnce_ListAndShowTellTheWindow()
    {
        var start = DateTimeOffset.UtcNow.AddDays(30);

        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--cpus", "2", "--memory", "512M", "--start", Utc(start), "--duration", "4h");
        await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--best-effort", "--no-wait");
        var list = await WsAsync("list");

        Assert.True(code == 0, stderr);
        Assert.Contains("State:     pending — reserved on h1 from ", stdout, StringComparison.Ordinal);
        Assert.Contains("Kind:      reservation — ", stdout, StringComparison.Ordinal);
        Assert.Contains("Host:      h1", stdout, StringComparison.Ordinal);
        Assert.Contains("KIND", list.Stdout.Split('\n')[0], StringComparison.Ordinal);
        Assert.Contains(list.Stdout.Split('\n'), l => l.Contains("reserved", StringComparison.Ordinal) && l.EndsWith("reservation, starts in 30d", StringComparison.Ordinal));
        Assert.Contains(list.Stdout.Split('\n'), l => l.Contains("queued", StringComparison.Ordinal) && l.EndsWith("best-effort, 1st in queue", StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task Extend_PositionalDuration_ExtendsAndIntoAReservationIsRefusedNamingIt()
    {
        var reservationStart = _filler.ExpiresAt.ToDateTimeOffset().AddHours(1);
        var reservation = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 2, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            Kind = LeaseKind.Reservation,
            Start = Timestamp.FromDateTimeOffset(reservationStart),
        });

        var fits = await WsAsync("extend", _filler.Id, "1h");
        var refused = await WsAsync("extend", _filler.Id, "--by", "30m");

        Assert.True(fits.Code == 0, fits.Stderr);
        Assert.Equal(LeaseState.Pending, reservation.State);
        Assert.Equal(ExitCodes.ServerError, refused.Code);
        Assert.Contains($"is reserved from {reservationStart:u} (lease {reservation.Id})", refused.Stderr, StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("--best-effort --start 2026-12-01T09:00", "--best-effort and --start do not go together")]
    [InlineData("--queue-limit 6h", "--queue-limit is only for --best-effort leases")]
    [InlineData("--start soon", "--start 'soon' is not a date and time")]
    public async Task Lease_KindOptionsThatDoNotGoTogether_UsageError(string options, string message)
    {
        var (code, _, stderr) = await WsAsync(["lease", "--image", "debian-12", .. options.Split(' ')]);

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }
}
