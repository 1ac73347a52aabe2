using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Host admin states through the scheduler's real gRPC API and SQLite file, with its real drain monitor ticking
/// every 20 ms of real time and reading a clock the test moves; the agent's side is played over the agent protocol.
/// </summary>
public sealed class HostAdminApiTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private HostServiceClient _hosts = null!;
    private LeaseServiceClient _leases = null!;
    private FakeAgent _agent = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { DrainCheckInterval = TimeSpan.FromMilliseconds(20) }, _clock);
        _channel = new RpcChannel(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", "alice" } } });
        _hosts = new HostServiceClient(_channel);
        _leases = new LeaseServiceClient(_channel);
        _agent = new FakeAgent(_channel, "h1");
        await _agent.RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private Task<Host> SetAsync(HostAdminAction action, TimeSpan? deadlineIn = null, string reason = "", string host = "h1") =>
        _hosts.SetHostAdminStateAsync(new SetHostAdminStateRequest
        {
            HostId = host,
            Action = action,
            Reason = reason,
            DrainDeadline = deadlineIn is { } within ? Timestamp.FromDateTimeOffset(_clock.GetUtcNow() + within) : null,
        });

    private async Task<RpcException> RefusedAsync(SetHostAdminStateRequest request) =>
        await Assert.ThrowsAsync<RpcException>(() => _hosts.SetHostAdminStateAsync(request));

    /// <summary>Asks for the host until the drain monitor has moved it to <paramref name="state"/>; the test's timeout bounds the wait.</summary>
    private async Task<Host> WaitForAsync(HostAdminState state)
    {
        while (true)
        {
            var host = await _hosts.GetHostAsync(new GetHostRequest { HostId = "h1" });
            if (host.AdminState == state)
            {
                return host;
            }

            await Task.Delay(20);
        }
    }

    private async Task<string> RunningLeaseAsync()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(4)),
        });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        return lease.Id;
    }

    [Fact(Timeout = 10_000)]
    public async Task NewHost_EnabledSinceRegistration()
    {
        var host = await _hosts.GetHostAsync(new GetHostRequest { HostId = "h1" });

        Assert.Equal(HostAdminState.Enabled, host.AdminState);
        Assert.Equal(host.RegisteredAt, host.AdminSince);
        Assert.Null(host.DrainDeadline);
    }

    [Fact(Timeout = 10_000)]
    public async Task Disable_ThenEnable_StateReasonAndCallerRecordedAndListed()
    {
        var disabled = await SetAsync(HostAdminAction.Disable, reason: "ECC errors");
        var listed = Assert.Single((await _hosts.ListHostsAsync(new ListHostsRequest())).Hosts);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var enabled = await SetAsync(HostAdminAction.Enable);

        Assert.Equal((HostAdminState.Disabled, "ECC errors", "alice"), (disabled.AdminState, disabled.AdminReason, disabled.AdminChangedBy));
        Assert.Equal(disabled.AdminSince, listed.AdminSince);
        Assert.Equal(HostAdminState.Disabled, listed.AdminState);
        Assert.Equal(HostAdminState.Enabled, enabled.AdminState);
        Assert.Equal(_clock.GetUtcNow(), enabled.AdminSince.ToDateTimeOffset());
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_EmptyHost_DrainingThenDrainedByTheMonitor()
    {
        var draining = await SetAsync(HostAdminAction.Drain, TimeSpan.FromHours(2), "kernel upgrade");

        var drained = await WaitForAsync(HostAdminState.Drained);

        Assert.Equal(HostAdminState.Draining, draining.AdminState);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromHours(2), draining.DrainDeadline.ToDateTimeOffset());
        Assert.Equal(("kernel upgrade", "scheduler"), (drained.AdminReason, drained.AdminChangedBy));
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_LeaseOutlivesTheDeadline_DrainFailedNamingItAndTheLeaseStillRuns()
    {
        var lease = await RunningLeaseAsync();
        await SetAsync(HostAdminAction.Drain, TimeSpan.FromMinutes(30));

        _clock.Advance(TimeSpan.FromMinutes(30));
        var failed = await WaitForAsync(HostAdminState.DrainFailed);

        Assert.Equal($"1 lease still holds capacity at the deadline: {lease}; release it or drain again with a later deadline", failed.AdminReason);
        Assert.Equal(LeaseState.Running, (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease })).State);
        Assert.Equal(lease, Assert.Single((await _agent.DesiredAsync()).Workspaces).Id);
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_AgainAfterFailing_DrainedWhenTheLeaseIsReleased()
    {
        var lease = await RunningLeaseAsync();
        await SetAsync(HostAdminAction.Drain, TimeSpan.FromMinutes(1));
        _clock.Advance(TimeSpan.FromMinutes(2));
        await WaitForAsync(HostAdminState.DrainFailed);

        var again = await SetAsync(HostAdminAction.Drain, TimeSpan.FromHours(1));
        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease });
        await _agent.ReportAsync(lease, WorkspaceState.Gone);
        var drained = await WaitForAsync(HostAdminState.Drained);

        Assert.Equal(HostAdminState.Draining, again.AdminState);
        Assert.Equal(again.DrainDeadline, drained.DrainDeadline);
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_WhileDraining_FailedPreconditionSayingHowToChangeTheDeadline()
    {
        await RunningLeaseAsync();
        await SetAsync(HostAdminAction.Drain, TimeSpan.FromHours(1));

        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(HostAdminAction.Drain, TimeSpan.FromHours(3)));

        Assert.Equal(StatusCode.FailedPrecondition, error.Status);
        Assert.Contains("host h1 is already draining", error.Message, StringComparison.Ordinal);
        Assert.Contains("ws hosts disable h1", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetAdmin_UnknownHost_NotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(HostAdminAction.Disable, host: "ghost"));

        Assert.Equal(StatusCode.NotFound, error.Status);
        Assert.Contains("host ghost is not registered", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData(-60, "drain_deadline is")]
    [InlineData(0, "drain_deadline is")]
    [InlineData(31 * 24 * 3600, "at most 30 days ahead")]
    public async Task Drain_DeadlineOutOfRange_InvalidArgumentAndStateUnchanged(int secondsFromNow, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(HostAdminAction.Drain, TimeSpan.FromSeconds(secondsFromNow)));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(HostAdminState.Enabled, (await _hosts.GetHostAsync(new GetHostRequest { HostId = "h1" })).AdminState);
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_WithoutDeadline_InvalidArgumentSayingItIsMissing()
    {
        var error = await RefusedAsync(new SetHostAdminStateRequest { HostId = "h1", Action = HostAdminAction.Drain });

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("drain_deadline is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Drain_FarFutureTimestamp_InvalidArgumentNotACrash()
    {
        var error = await RefusedAsync(new SetHostAdminStateRequest { HostId = "h1", Action = HostAdminAction.Drain, DrainDeadline = new Timestamp { Seconds = long.MaxValue } });

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("drain_deadline", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Disable_WithDeadline_InvalidArgument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(HostAdminAction.Disable, TimeSpan.FromHours(1)));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("only HOST_ADMIN_ACTION_DRAIN takes a deadline", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData(254, "", "254 characters long")]
    [InlineData(10, "\n", "control characters")]
    public async Task SetAdmin_BadReason_InvalidArgumentNamingTheField(int length, string tail, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(HostAdminAction.Disable, reason: new string('x', length) + tail));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("reason", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetAdmin_NoAction_InvalidArgumentListingTheActions()
    {
        var error = await RefusedAsync(new SetHostAdminStateRequest { HostId = "h1" });

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("HOST_ADMIN_ACTION_DRAIN", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task SilentHost_UnreachableSayingForHowLong_AndItsLeaseKeepsRunning()
    {
        var lease = await RunningLeaseAsync();

        _clock.Advance(TimeSpan.FromMinutes(10));
        var host = await _hosts.GetHostAsync(new GetHostRequest { HostId = "h1" });

        Assert.Equal(HostHealth.Down, host.Health);
        Assert.Equal("no heartbeat for 10 min", host.HealthReason);
        Assert.Equal(LeaseState.Running, (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease })).State);
        Assert.Equal(lease, Assert.Single((await _agent.DesiredAsync()).Workspaces).Id);
    }
}
