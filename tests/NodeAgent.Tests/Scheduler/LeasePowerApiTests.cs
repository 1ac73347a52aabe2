using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>SetLeasePower through the scheduler's real API; the host's side is played over the real agent protocol.</summary>
public sealed class LeasePowerApiTests : IAsyncLifetime
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
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private async Task<Lease> RunningLeaseAsync(uint vcpus = 1)
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = vcpus, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        return await GetAsync(lease.Id);
    }

    private Task<Lease> GetAsync(string id) => _leases.GetLeaseAsync(new GetLeaseRequest { Id = id });

    private Task<Lease> PowerAsync(string id, PowerAction action) => _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = id, Action = action });

    private async Task<Lease> StoppedLeaseAsync(uint vcpus = 1)
    {
        var lease = await RunningLeaseAsync(vcpus);
        await PowerAsync(lease.Id, PowerAction.Stop);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        return await GetAsync(lease.Id);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stop_RunningLease_PowerStoppedInTheDesiredSetThenStoppedWhenTheHostSaysSo()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();
        var versionBefore = (await _agent.DesiredAsync()).Version;

        var asked = await PowerAsync(lease.Id, PowerAction.Stop);
        var desired = await _agent.DesiredAsync();
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        var staleRunning = await GetAsync(lease.Id);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopping);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        var stopped = await GetAsync(lease.Id);

        Assert.Equal(LeaseState.Running, asked.State);
        Assert.Equal(PowerState.Stopped, asked.Power);
        Assert.Equal("stopping on h1 at the owner's request", asked.StateReason);
        Assert.True(desired.Version > versionBefore);
        Assert.Equal(PowerState.Stopped, Assert.Single(desired.Workspaces).Power);
        Assert.Equal(LeaseState.Running, staleRunning.State);
        Assert.Equal(LeaseState.Stopped, stopped.State);
        Assert.Equal("stopped on h1", stopped.StateReason);
        Assert.Equal(lease.ExpiresAt, stopped.ExpiresAt);
        Assert.Equal("h1", stopped.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stop_Twice_SecondChangesNothingAndKeepsTheDesiredVersion()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();
        var first = await PowerAsync(lease.Id, PowerAction.Stop);
        var version = await _agent.HeartbeatAsync(lease.Id);

        var second = await PowerAsync(lease.Id, PowerAction.Stop);

        Assert.Equal(first, second);
        Assert.Equal(version, await _agent.HeartbeatAsync(lease.Id));
    }

    [Fact(Timeout = 10_000)]
    public async Task StoppedLease_StaysInTheDesiredSetAndHoldsItsCapacity()
    {
        await _agent.RegisterAsync(vcpus: 2);
        var stopped = await StoppedLeaseAsync(vcpus: 2);

        var desired = await _agent.DesiredAsync();
        var refused = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });

        Assert.Equal(LeaseState.Stopped, stopped.State);
        var spec = Assert.Single(desired.Workspaces);
        Assert.Equal(stopped.Id, spec.Id);
        Assert.Equal(PowerState.Stopped, spec.Power);
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("no host can take it: 1 host: insufficient vCPUs", refused.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Start_StoppedLease_RunsWhenTheHostReportsRunning()
    {
        await _agent.RegisterAsync();
        var stopped = await StoppedLeaseAsync();

        var asked = await PowerAsync(stopped.Id, PowerAction.Start);
        await _agent.ReportAsync(stopped.Id, WorkspaceState.Stopped);
        var staleStopped = await GetAsync(stopped.Id);
        await _agent.ReportAsync(stopped.Id, WorkspaceState.Starting);
        await _agent.ReportAsync(stopped.Id, WorkspaceState.Running);
        var running = await GetAsync(stopped.Id);

        Assert.Equal(LeaseState.Stopped, asked.State);
        Assert.Equal(PowerState.Running, asked.Power);
        Assert.Equal("starting on h1 at the owner's request", asked.StateReason);
        Assert.Equal(PowerState.Running, Assert.Single((await _agent.DesiredAsync()).Workspaces).Power);
        Assert.Equal(LeaseState.Stopped, staleStopped.State);
        Assert.Equal(LeaseState.Running, running.State);
        Assert.Equal("running on h1", running.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Reboot_Twice_CountsRequestsAndTheHostsReports()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();

        await PowerAsync(lease.Id, PowerAction.Reboot);
        var asked = await PowerAsync(lease.Id, PowerAction.Reboot);
        var spec = Assert.Single((await _agent.DesiredAsync()).Workspaces);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopping);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        var midway = await GetAsync(lease.Id);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running, rebootCount: 2);
        var done = await GetAsync(lease.Id);

        Assert.Equal(2UL, asked.RebootsRequested);
        Assert.Equal(0UL, asked.RebootsDone);
        Assert.Equal(2UL, spec.RebootCount);
        Assert.Equal(PowerState.Running, spec.Power);
        Assert.Equal(LeaseState.Running, midway.State);
        Assert.Equal("h1 is rebooting the workspace (stopped, starting again)", midway.StateReason);
        Assert.Equal(2UL, done.RebootsDone);
        Assert.Equal("running on h1", done.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task PauseThenResume_FollowTheHostsReports()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();

        await PowerAsync(lease.Id, PowerAction.Pause);
        var pausedSpec = Assert.Single((await _agent.DesiredAsync()).Workspaces);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Paused);
        var paused = await GetAsync(lease.Id);
        var resuming = await PowerAsync(lease.Id, PowerAction.Resume);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        var resumed = await GetAsync(lease.Id);

        Assert.Equal(PowerState.Paused, pausedSpec.Power);
        Assert.Equal(LeaseState.Paused, paused.State);
        Assert.Equal("resuming on h1 at the owner's request", resuming.StateReason);
        Assert.Equal(LeaseState.Running, resumed.State);
    }

    [Fact(Timeout = 10_000)]
    public async Task Release_StoppedLease_LeavesTheDesiredSetAndEnds()
    {
        await _agent.RegisterAsync();
        var stopped = await StoppedLeaseAsync();

        var stopping = await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = stopped.Id });
        var desired = await _agent.DesiredAsync();
        await _agent.ReportAsync(stopped.Id, WorkspaceState.Gone);

        Assert.Equal(LeaseState.Stopping, stopping.State);
        Assert.Empty(desired.Workspaces);
        Assert.Equal(LeaseState.Ended, (await GetAsync(stopped.Id)).State);
    }

    [Theory(Timeout = 10_000)]
    [InlineData(PowerAction.Unspecified, "POWER_ACTION_UNSPECIFIED")]
    [InlineData((PowerAction)42, "action is 42")]
    public async Task SetLeasePower_NoKnownAction_InvalidArgumentNamingTheAllowedValues(PowerAction action, string named)
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => PowerAsync(lease.Id, action));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("POWER_ACTION_START, POWER_ACTION_STOP, POWER_ACTION_REBOOT, POWER_ACTION_PAUSE, POWER_ACTION_RESUME", error.Message, StringComparison.Ordinal);
        Assert.Equal(PowerState.Running, (await GetAsync(lease.Id)).Power);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetLeasePower_MalformedIdAndNoAction_BothNamedAtOnce()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => PowerAsync("W/../x", PowerAction.Unspecified));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("id ", error.Message, StringComparison.Ordinal);
        Assert.Contains("action ", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetLeasePower_UnknownLease_NotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => PowerAsync("w-nosuchlease", PowerAction.Stop));

        Assert.Equal(StatusCode.NotFound, error.Status);
        Assert.Contains("w-nosuchlease", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetLeasePower_WrongState_FailedPreconditionSayingWhatFits()
    {
        await _agent.RegisterAsync();
        var stopped = await StoppedLeaseAsync();
        var failed = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 64, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });

        var pauseStopped = await Assert.ThrowsAsync<RpcException>(() => PowerAsync(stopped.Id, PowerAction.Pause));
        var startFailed = await Assert.ThrowsAsync<RpcException>(() => PowerAsync(failed.Id, PowerAction.Start));

        Assert.Equal(StatusCode.FailedPrecondition, pauseStopped.Status);
        Assert.Equal($"lease {stopped.Id} is stopped; `ws start {stopped.Id}` starts it", pauseStopped.Message);
        Assert.Equal(StatusCode.FailedPrecondition, startFailed.Status);
        Assert.Contains("has failed", startFailed.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetLeasePower_ReleasedLease_FailedPrecondition()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();
        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });

        var error = await Assert.ThrowsAsync<RpcException>(() => PowerAsync(lease.Id, PowerAction.Stop));

        Assert.Equal(StatusCode.FailedPrecondition, error.Status);
        Assert.Contains("stopping for good (released;", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task WatchLease_StopAskedAndConfirmed_StreamsEachStep()
    {
        await _agent.RegisterAsync();
        var lease = await RunningLeaseAsync();
        using var watch = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var seen = new List<(LeaseState, PowerState)>();
        await using var updates = _leases.WatchLeaseAsync(new GetLeaseRequest { Id = lease.Id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(8))).GetAsyncEnumerator(watch.Token);

        Assert.True(await updates.MoveNextAsync());
        seen.Add((updates.Current.State, updates.Current.Power));
        await PowerAsync(lease.Id, PowerAction.Stop);
        Assert.True(await updates.MoveNextAsync());
        seen.Add((updates.Current.State, updates.Current.Power));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        Assert.True(await updates.MoveNextAsync());
        seen.Add((updates.Current.State, updates.Current.Power));

        Assert.Equal([(LeaseState.Running, PowerState.Running), (LeaseState.Running, PowerState.Stopped), (LeaseState.Stopped, PowerState.Stopped)], seen);
    }
}
