using System.Diagnostics;
using NodeAgent.Cli;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>`ws lease`'s placement options and --dry-run, run as a program against the real scheduler in process.</summary>
public sealed class LeasePlacementCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        await new FakeAgent(_channel, "h1").RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<WsRun> WsAsync(params string[] arguments) => WsProgram.RunAsync(_scheduler.Address, "alice", null, arguments);

    [Fact(Timeout = 30_000)]
    public async Task DryRun_PrintsWhereItWouldGo_AndLeasesNothing()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--anti-affinity", "db", "--dry-run");

        Assert.True(code == 0, stderr);
        Assert.StartsWith("would go to h1: ", stdout, StringComparison.Ordinal);
        Assert.Empty((await new LeaseServiceClient(_channel).ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 30_000)]
    public async Task DryRun_NoHostHasTheFeature_ExitsOneWithTheReason()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--feature", "gpu", "--dry-run");

        Assert.Equal(ExitCodes.ServerError, code);
        Assert.Equal("no host can take it: 1 host: lacks feature gpu\n", stdout);
        Assert.Contains("no host can take the lease now", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Lease_WithLabelAndGroups_ShowListsThePlacement()
    {
        var (code, stdout, stderr) = await WsAsync("lease", "--image", "debian-12", "--memory", "512M", "--label", "rack=r7", "--spread-group", "web", "--no-wait");

        Assert.True(code == 0, stderr);
        Assert.Contains("Placement: labels rack=r7, spread group web", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task MalformedLabel_IsAUsageError()
    {
        var (code, _, stderr) = await WsAsync("lease", "--image", "debian-12", "--label", "rack");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains("--label 'rack' is not KEY=VALUE", stderr, StringComparison.Ordinal);
    }
}
