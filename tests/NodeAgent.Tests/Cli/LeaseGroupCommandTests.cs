using NodeAgent.Cli;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>`ws lease --count`, `ws list --group` and `ws release` of several leases, run as a program against the real scheduler in process.</summary>
public sealed class LeaseGroupCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private FakeAgent _host = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _host = new FakeAgent(_channel, "h1");
        await _host.RegisterAsync(vcpus: 4);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<WsRun> WsAsync(params string[] arguments) => WsProgram.RunAsync(_scheduler.Address, "alice", null, arguments);

    private async Task<List<Lease>> LeasesAsync(bool includeEnded = false) =>
        (await new LeaseServiceClient(_channel).ListLeasesAsync(new ListLeasesRequest { IncludeEnded = includeEnded })).Leases.ToList();

    [Fact(Timeout = 60_000)]
    public async Task LeaseCountThree_ListByGroup_ReleaseTheGroup_EveryLeaseEnds()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--count", "3", "--no-wait");
        var group = (await LeasesAsync()).Select(l => l.Group).Distinct().Single();
        var (listCode, listed, _) = await WsAsync("list", "--group", group);
        var (releaseCode, released, releaseErr) = await WsAsync("release", "--group", group, "--no-wait");

        Assert.True(code == 0, stderr);
        Assert.StartsWith($"Group {group}: 3 starting\n", stdout, StringComparison.Ordinal);
        Assert.Equal(0, listCode);
        Assert.Equal(3, listed.Split('\n').Count(l => l.StartsWith("w-", StringComparison.Ordinal) && l.Contains("group " + group, StringComparison.Ordinal)));
        Assert.True(releaseCode == 0, releaseErr);
        Assert.Equal(3, released.Split('\n').Count(l => l.StartsWith("w-", StringComparison.Ordinal) && l.Contains("stopping", StringComparison.Ordinal)));
        Assert.All(await LeasesAsync(), l => Assert.Equal(LeaseState.Stopping, l.State));
    }

    [Fact(Timeout = 60_000)]
    public async Task LeaseCount_WaitsUntilEveryWorkspaceRuns_PrintingTheTallyAsItChanges()
    {
        var ws = WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--count", "2", "--wait-limit", "30s");
        List<Lease> placed;
        while ((placed = await LeasesAsync()).Count < 2)
        {
            await Task.Delay(50);
        }

        await _host.ReportAsync(placed[0].Id, WorkspaceState.Running);
        await Task.Delay(300);
        await _host.ReportAsync(placed[1].Id, WorkspaceState.Running);
        var (code, stdout, stderr) = await ws;

        Assert.True(code == 0, stderr);
        Assert.StartsWith($"Group {placed[0].Group}: 2 running\n", stdout, StringComparison.Ordinal);
        Assert.Contains($"group {placed[0].Group}: 2 starting\n", stderr, StringComparison.Ordinal);
        Assert.Contains($"group {placed[0].Group}: 2 running\n", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task LeaseCount_MoreThanTheHostHolds_ExitsWithTheGroupsReasonAndNothingHeld()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--cpus", "2", "--memory", "512M", "--count", "3");

        Assert.Equal(ExitCodes.ServerError, code);
        Assert.Contains("3 failed", stdout, StringComparison.Ordinal);
        Assert.Contains("workspace 3 of the group of 3 cannot be placed: no host can take it: 1 host: insufficient vCPUs", stderr, StringComparison.Ordinal);
        Assert.All(await LeasesAsync(includeEnded: true), l => Assert.Equal(LeaseState.Failed, l.State));
    }

    [Fact(Timeout = 60_000)]
    public async Task ReleaseSeveralIds_EndsEachOne()
    {
        await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--count", "2", "--no-wait");
        var ids = (await LeasesAsync()).Select(l => l.Id).ToArray();

        var (code, stdout, stderr) = await WsAsync(["release", "--no-wait", .. ids]);

        Assert.True(code == 0, stderr);
        Assert.All(ids, id => Assert.Contains(id, stdout, StringComparison.Ordinal));
        Assert.All(await LeasesAsync(), l => Assert.Equal(LeaseState.Stopping, l.State));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { "lease", "--image", "debian-12", "--count", "0" }, "--count 0 is not between 1 and 1000")]
    [InlineData(new[] { "release" }, "say which lease to end")]
    public async Task BadCountOrNothingToRelease_IsAUsageError(string[] arguments, string expected)
    {
        var (code, _, stderr) = await WsAsync(arguments);

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Empty(await LeasesAsync(includeEnded: true));
    }
}
