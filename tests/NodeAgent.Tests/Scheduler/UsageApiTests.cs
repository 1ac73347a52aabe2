using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>UsageService against the real scheduler (its SQLite file on disk) over loopback gRPC; hosts register as a <see cref="FakeAgent"/>.</summary>
public sealed partial class UsageApiTests : IAsyncLifetime
{
    internal static readonly DateTimeOffset Start = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private UsageServiceClient _usage = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(emptyCatalogue: true);
        _channel = new RpcChannel(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", "alice" } } });
        _usage = new UsageServiceClient(_channel);
        await new FakeAgent(_channel, "h1").RegisterAsync();
        await new FakeAgent(_channel, "h2").RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    /// <summary>A minute of one workspace: 30 CPU-seconds, 20 vCPU-seconds, 1 GiB, fixed counters (sequence-dependent start).</summary>
    internal static UsageRecord Record(ulong sequence, string lease = "w-aaaaaaaaaa", string owner = "alice", string project = "", string host = "h1", int minute = -1) => new()
    {
        HostId = host,
        Sequence = sequence,
        LeaseId = lease,
        Owner = owner,
        Project = project,
        PeriodStart = Timestamp.FromDateTimeOffset(Start.AddMinutes(minute >= 0 ? minute : (double)sequence)),
        PeriodSeconds = 60,
        CpuSeconds = 30,
        VcpuSeconds = 20,
        MemoryBytes = 1UL << 30,
        MemoryResidentBytes = 700UL << 20,
        NetRxBytes = 1000,
        NetTxBytes = 2000,
        NetRxPackets = 10,
        NetTxPackets = 20,
        DiskReadBytes = 4096,
        DiskWriteBytes = 8192,
        DiskReadOps = 1,
        DiskWriteOps = 2,
        PoweredOnSeconds = 60,
    };

    internal static ReportUsageRequest Batch(string host, params UsageRecord[] records)
    {
        var request = new ReportUsageRequest { HostId = host };
        request.Records.Add(records);
        return request;
    }

    private static IEnumerable<UsageRecord> Range(ulong first, ulong last) => Enumerable.Range((int)first, (int)(last - first + 1)).Select(s => Record((ulong)s));

    private Task<ulong> ReportAsync(string host, params UsageRecord[] records) => ReportAsync(_usage, host, records);

    private static async Task<ulong> ReportAsync(UsageServiceClient usage, string host, params UsageRecord[] records) =>
        (await usage.ReportUsageAsync(Batch(host, records))).AcknowledgedSequence;

    private Task<GetUsageResponse> GetAsync(GetUsageRequest? request = null) => _usage.GetUsageAsync(request ?? new GetUsageRequest());

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_SameBatchTwice_StoredOnceAndTotalsUnchanged()
    {
        var batch = Range(1, 5).ToArray();
        Assert.Equal(5UL, await ReportAsync("h1", batch));
        var before = await GetAsync();

        Assert.Equal(5UL, await ReportAsync("h1", batch));

        var after = await GetAsync();
        Assert.Equal(5, after.Records.Count);
        Assert.Equal(before.Totals, after.Totals);
        var total = Assert.Single(after.Totals);
        Assert.Equal(5UL, total.Records);
        Assert.Equal(150.0, total.CpuSeconds);
        Assert.Equal(5.0 * 60 * (1UL << 30), total.MemoryByteSeconds);
        Assert.Equal(10_000UL, total.NetTxBytes);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_GapAndOutOfOrder_AcknowledgesOnlyUpToTheFirstMissingSequence()
    {
        Assert.Equal(2UL, await ReportAsync("h1", Record(1), Record(2), Record(4)));
        Assert.Equal(2UL, await ReportAsync("h1", Record(6)));
        Assert.Equal(4UL, await ReportAsync("h1", Record(3)));
        Assert.Equal(6UL, await ReportAsync("h1", Record(5)));
        Assert.Equal(6UL, await ReportAsync("h1"));
        Assert.Equal(0UL, await ReportAsync("h2"));
        Assert.Equal(6, (await GetAsync()).Records.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_JournalStartingAbove1_AcknowledgesFromItsFirstRecordPerHost()
    {
        Assert.Equal(43UL, await ReportAsync("h1", Record(41), Record(42), Record(43)));
        Assert.Equal(2UL, await ReportAsync("h2", Record(1, host: "h2"), Record(2, host: "h2")));
        Assert.Equal(44UL, await ReportAsync("h1", Record(44)));
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_UnregisteredHost_NotFoundAndNothingStored()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ReportAsync("stranger", Record(1, host: "stranger")));

        Assert.Equal(StatusCode.NotFound, e.Status);
        Assert.Contains("stranger", e.Message, StringComparison.Ordinal);
        Assert.Empty((await GetAsync()).Records);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_HostileValues_InvalidArgumentNamingEveryProblemAndNothingStored()
    {
        var nan = Record(1);
        nan.CpuSeconds = double.NaN;
        var negative = Record(2);
        negative.VcpuSeconds = -1;
        var longPeriod = Record(3);
        longPeriod.PeriodSeconds = 7200;
        var badLease = Record(4, lease: "../etc");
        var zero = Record(0);
        var huge = Record(6);
        huge.NetRxBytes = ulong.MaxValue;
        var otherHost = Record(7, host: "h2");
        var infinite = Record(8);
        infinite.VcpuSeconds = double.PositiveInfinity;
        var overOn = Record(9);
        overOn.PoweredOnSeconds = 61;
        var noStart = Record(10);
        noStart.PeriodStart = null;

        var e = await Assert.ThrowsAsync<RpcException>(() => ReportAsync("h1", nan, negative, longPeriod, badLease, zero, huge, otherHost, infinite, overOn, noStart));

        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.Contains("records[0].cpu_seconds is NaN", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[1].vcpu_seconds is -1", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[2].period_seconds is 7200; it must be between 1 and 3600", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[3].lease_id", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[4].sequence is 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[5].net_rx_bytes is 18446744073709551615", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[6].host_id 'h2' is not the reporting host h1", e.Message, StringComparison.Ordinal);
        Assert.Matches(@"records\[7\]\.vcpu_seconds is [^;]+; it must be a finite number", e.Message);
        Assert.Contains("records[8].powered_on_seconds is 61", e.Message, StringComparison.Ordinal);
        Assert.Contains("records[9].period_start is missing", e.Message, StringComparison.Ordinal);
        Assert.Empty((await GetAsync()).Records);
        Assert.Equal(0UL, await ReportAsync("h1"));
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_BatchTooLargeOrRepeatedSequence_InvalidArgument()
    {
        var tooMany = await Assert.ThrowsAsync<RpcException>(() => ReportAsync("h1", Range(1, 1001).ToArray()));
        var repeated = await Assert.ThrowsAsync<RpcException>(() => ReportAsync("h1", Record(1), Record(1)));

        Assert.Equal(StatusCode.InvalidArgument, tooMany.Status);
        Assert.Contains("records has 1001 entries; at most 1000 are allowed", tooMany.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, repeated.Status);
        Assert.Contains("repeat the sequence 1", repeated.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_LeaseNotPlacedOnTheHost_StoredAnyway()
    {
        Assert.Equal(1UL, await ReportAsync("h1", Record(1, lease: "w-zzzzzzzzzz")));

        Assert.Equal("w-zzzzzzzzzz", Assert.Single((await GetAsync()).Records).LeaseId);
    }

    [Fact(Timeout = 30_000)]
    public async Task GetUsage_Filters_OwnerDefaultsToTheCallerProjectAndHalfOpenRange()
    {
        await ReportAsync("h1",
            Record(1, owner: "alice", project: "genomics", minute: 0),
            Record(2, owner: "alice", project: "physics", minute: 1),
            Record(3, owner: "bob", project: "genomics", minute: 2),
            Record(4, owner: "alice", lease: "w-bbbbbbbbbb", minute: 3));

        var mine = await GetAsync();
        var bobs = await GetAsync(new GetUsageRequest { Owner = "bob" });
        var genomics = await GetAsync(new GetUsageRequest { Project = "genomics" });
        var window = await GetAsync(new GetUsageRequest { From = Timestamp.FromDateTimeOffset(Start.AddMinutes(1)), To = Timestamp.FromDateTimeOffset(Start.AddMinutes(3)) });
        var byLease = await GetAsync(new GetUsageRequest { GroupBy = UsageGrouping.Lease, TotalsOnly = true });
        var byProject = await GetAsync(new GetUsageRequest { GroupBy = UsageGrouping.Project, TotalsOnly = true });

        Assert.Equal([1UL, 2UL, 4UL], mine.Records.Select(r => r.Sequence));
        Assert.Equal([3UL], bobs.Records.Select(r => r.Sequence));
        Assert.Equal([1UL], genomics.Records.Select(r => r.Sequence));
        Assert.Equal([2UL], window.Records.Select(r => r.Sequence));
        Assert.Empty(byLease.Records);
        Assert.Equal([("w-aaaaaaaaaa", 2UL), ("w-bbbbbbbbbb", 1UL)], byLease.Totals.Select(t => (t.Key, t.Records)));
        Assert.Equal(["alice", "genomics", "physics"], byProject.Totals.Select(t => t.Key));
        Assert.Equal(mine.Records[2].PeriodStart, byLease.Totals[1].FirstPeriodStart);
    }

    [Fact(Timeout = 60_000)]
    public async Task GetUsage_MoreRecordsThanOneAnswerCarries_ResourceExhaustedButTotalsStillAnswer()
    {
        foreach (var chunk in Range(1, 10_001).Chunk(1000))
        {
            await ReportAsync("h1", chunk);
        }

        var e = await Assert.ThrowsAsync<RpcException>(() => GetAsync());
        var totals = await GetAsync(new GetUsageRequest { TotalsOnly = true });
        var narrowed = await GetAsync(new GetUsageRequest { To = Timestamp.FromDateTimeOffset(Start.AddMinutes(101)) });

        Assert.Equal(StatusCode.ResourceExhausted, e.Status);
        Assert.Contains("narrow the time range", e.Message, StringComparison.Ordinal);
        Assert.Equal(10_001UL, Assert.Single(totals.Totals).Records);
        Assert.Equal(100, narrowed.Records.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task GetUsage_BadFilters_InvalidArgumentNamingEach()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => GetAsync(new GetUsageRequest
        {
            Owner = "Not An Owner",
            From = Timestamp.FromDateTimeOffset(Start),
            To = Timestamp.FromDateTimeOffset(Start.AddDays(-1)),
            GroupBy = (UsageGrouping)42,
        }));

        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.Contains("owner", e.Message, StringComparison.Ordinal);
        Assert.Contains("is after to", e.Message, StringComparison.Ordinal);
        Assert.Contains("group_by is 42", e.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task ReportUsage_SchedulerRestartedOnTheSameDatabase_KeepsRecordsAndAcknowledgement()
    {
        using var directory = new TempDirectory();
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:0")],
            ImageListen = null,
            DatabasePath = Path.Combine(directory.Path, "scheduler.db"),
        };
        await using (var first = await StartedAsync(options))
        {
            using var channel = new RpcChannel(new Uri(SchedulerApp.BoundAddresses(first).Single()));
            await new FakeAgent(channel, "h1").RegisterAsync();
            Assert.Equal(3UL, await ReportAsync(new UsageServiceClient(channel), "h1", Record(1), Record(2), Record(3), Record(5)));
            await first.StopAsync();
        }

        await using var second = await StartedAsync(options);
        using var again = new RpcChannel(new Uri(SchedulerApp.BoundAddresses(second).Single()), new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", "alice" } } });
        var usage = new UsageServiceClient(again);

        Assert.Equal(3UL, await ReportAsync(usage, "h1", Record(1), Record(2)));
        Assert.Equal(5UL, await ReportAsync(usage, "h1", Record(4), Record(5)));
        var total = Assert.Single((await usage.GetUsageAsync(new GetUsageRequest())).Totals);
        Assert.Equal(5UL, total.Records);
        Assert.Equal(150.0, total.CpuSeconds);
    }

    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartedAsync(SchedulerOptions options)
    {
        var app = SchedulerApp.Build(options with { Auth = NodeAgent.Scheduler.Security.AuthMode.None }, logging => logging.ClearProviders());
        await app.StartAsync();
        return app;
    }
}
