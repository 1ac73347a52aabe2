using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>
/// ws stop/start/reboot/pause/resume run as programs against the real scheduler in process; the host's side is
/// a <see cref="FakeAgent"/> that watches the desired set and reports over the real agent protocol.
/// </summary>
public sealed class PowerCommandTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private FakeAgent _agent = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _agent = new FakeAgent(_channel, "h1");
        await _agent.RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<WsRun> WsAsync(params string[] arguments) => WsProgram.RunAsync(_scheduler.Address, "alice", null, arguments);

    private async Task<Lease> RunningLeaseAsync()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        return lease;
    }

    private Task<Lease> GetAsync(string id) => _leases.GetLeaseAsync(new GetLeaseRequest { Id = id });

    [Fact(Timeout = 30_000)]
    public async Task Stop_NoWait_ReturnsWithTheStopAskedForAndTheLeaseStillRunning()
    {
        var lease = await RunningLeaseAsync();

        var run = await WsAsync("stop", lease.Id, "--no-wait");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("State:     running — stopping on h1 at the owner's request", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Power:     stopped", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Stderr);
        var after = await GetAsync(lease.Id);
        Assert.Equal(LeaseState.Running, after.State);
        Assert.Equal(PowerState.Stopped, after.Power);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_Wait_FollowsTheLeaseUntilTheHostReportsItStopped()
    {
        var lease = await RunningLeaseAsync();

        var ws = WsAsync("stop", lease.Id);
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.Power == PowerState.Stopped, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopping);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped, message: "the guest shut itself down");
        var run = await ws;

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("State:     stopped — stopped on h1: the guest shut itself down", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("running   stopping on h1 at the owner's request", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("stopped   stopped on h1", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reboot_Wait_ReturnsOnceTheHostHasCarriedItOut()
    {
        var lease = await RunningLeaseAsync();

        var ws = WsAsync("reboot", lease.Id, "-o", "json");
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.RebootCount == 1, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopping);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Starting);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running, rebootCount: 1);
        var run = await ws;

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("\"rebootsRequested\": \"1\"", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"rebootsDone\": \"1\"", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("running   rebooting on h1 at the owner's request", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task PauseThenResume_Wait_EachReturnsOnceTheHostConfirms()
    {
        var lease = await RunningLeaseAsync();

        var pause = WsAsync("pause", lease.Id);
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.Power == PowerState.Paused, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Paused);
        var paused = await pause;
        var resume = WsAsync("resume", lease.Id);
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.Power == PowerState.Running, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        var resumed = await resume;

        Assert.Equal(ExitCodes.Ok, paused.Code);
        Assert.Contains("State:     paused — paused on h1", paused.Stdout, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, resumed.Code);
        Assert.Contains("State:     running — running on h1", resumed.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Start_StoppedLease_WaitsUntilRunning()
    {
        var lease = await RunningLeaseAsync();
        await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Stop });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);

        var ws = WsAsync("start", lease.Id);
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.Power == PowerState.Running, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        var run = await ws;

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("State:     running — running on h1", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_Wait_WorkspaceFailsMeanwhile_ExitsOneSayingSo()
    {
        var lease = await RunningLeaseAsync();

        var ws = WsAsync("stop", lease.Id);
        await _agent.WaitForSpecAsync(lease.Id, spec => spec.Power == PowerState.Stopped, TimeSpan.FromSeconds(20));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Failed, message: "libvirt: domain not found");
        var run = await ws;

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains($"lease {lease.Id} did not stop: it is failed (the workspace failed on h1: libvirt: domain not found)", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_WaitLimitPasses_ExitsThreeAndTheStopCarriesOn()
    {
        var lease = await RunningLeaseAsync();

        var run = await WsAsync("stop", lease.Id, "--wait-limit", "1s");

        Assert.Equal(ExitCodes.Unavailable, run.Code);
        Assert.Contains($"lease {lease.Id} is still running after 1 seconds", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(PowerState.Stopped, (await GetAsync(lease.Id)).Power);
    }

    [Fact(Timeout = 30_000)]
    public async Task Pause_StoppedLease_ExitsOneNamingTheCommandThatFits()
    {
        var lease = await RunningLeaseAsync();
        await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Stop });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);

        var run = await WsAsync("pause", lease.Id);

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains($"`ws start {lease.Id}` starts it", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_UnknownLease_ExitsOne()
    {
        var run = await WsAsync("stop", "w-nosuchlease");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("does not exist", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task ListAndShow_StoppedLeaseAndReboots_Shown()
    {
        var lease = await RunningLeaseAsync();
        await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Reboot });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running, rebootCount: 1);
        await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Stop });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);

        var list = await WsAsync("list");
        var show = await WsAsync("show", lease.Id);

        Assert.Equal(ExitCodes.Ok, list.Code);
        var header = list.Stdout.Split('\n')[0];
        var row = list.Stdout.Split('\n').Single(l => l.StartsWith(lease.Id, StringComparison.Ordinal));
        Assert.Contains("POWER", header, StringComparison.Ordinal);
        Assert.Equal(["stopped", "stopped", "h1"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..4]);
        Assert.Contains("Reboots:   1 asked for, 1 carried out", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("Power:     stopped", show.Stdout, StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("stop", "ACPI")]
    [InlineData("stop", "still holds its vCPUs, memory and disk on the")]
    [InlineData("pause", "keep its memory")]
    [InlineData("reboot", "then booted again")]
    [InlineData("resume", "--no-wait")]
    public async Task Help_PowerCommand_PrintsItsManual(string command, string text)
    {
        var run = await WsAsync(command, "--help");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("Manual:", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(text, run.Stdout, StringComparison.Ordinal);
        Assert.Contains("--wait-limit", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_WithoutLeaseId_ExitsTwo()
    {
        var run = await WsAsync("stop");

        Assert.Equal(ExitCodes.UsageError, run.Code);
    }
}
