using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// A lease's end in two stages, through the real scheduler with a manual clock: a warning before the end, the guest
/// shut down at the end (disks kept for the grace: save or extend still work), the workspace destroyed after the grace.
/// </summary>
public sealed class LeaseExpiryTests : IAsyncLifetime
{
    private static readonly TimeSpan Warning = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Grace = TimeSpan.FromMinutes(2);
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private FakeAgent _agent = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { ExpiryWarning = Warning, ExpiryGrace = Grace }, _clock);
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

    private LeaseManager Manager => _scheduler.Service<LeaseManager>();

    private async Task<Lease> RunningLeaseAsync()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        return await GetAsync(lease.Id);
    }

    private async Task<Lease> GetAsync(string id) => await _leases.GetLeaseAsync(new GetLeaseRequest { Id = id });

    [Fact(Timeout = 20_000)]
    public async Task BeforeTheEnd_OneWarningNamingTheEndAndHowToExtend()
    {
        var lease = await RunningLeaseAsync();
        _clock.Advance(TimeSpan.FromMinutes(45));
        Assert.Equal(0, await Manager.ExpireDueAsync(default));

        _clock.Advance(TimeSpan.FromMinutes(6));
        var warned = await Manager.ExpireDueAsync(default);
        var again = await Manager.ExpireDueAsync(default);

        var now = await GetAsync(lease.Id);
        Assert.Equal((1, 0), (warned, again));
        Assert.Equal(LeaseState.Running, now.State);
        Assert.Contains("expires 2026-11-22 10:00:00Z (in 9 min)", now.StateReason, StringComparison.Ordinal);
        Assert.Contains($"ws extend {lease.Id}", now.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task AtTheEnd_GuestShutDownButKept_ThenDestroyedAfterTheGrace()
    {
        var lease = await RunningLeaseAsync();
        var spec = (await _agent.DesiredAsync()).Workspaces.Single();
        Assert.Equal(spec.ExpiresAt.ToDateTimeOffset() + Grace, spec.DestroyAt.ToDateTimeOffset());

        _clock.Advance(TimeSpan.FromHours(1));
        await Manager.ExpireDueAsync(default);
        var stopping = await GetAsync(lease.Id);
        var wanted = await _agent.WaitForSpecAsync(lease.Id, s => s.Power == PowerState.Stopped, TimeSpan.FromSeconds(5));
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        var stopped = await GetAsync(lease.Id);

        _clock.Advance(Grace - TimeSpan.FromSeconds(1));
        await Manager.ExpireDueAsync(default);
        var kept = await GetAsync(lease.Id);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await Manager.ExpireDueAsync(default);
        var destroyed = await GetAsync(lease.Id);

        Assert.Equal((LeaseState.Running, PowerState.Stopped), (stopping.State, stopping.Power));
        Assert.Contains("the guest is shut down on h1, and destroyed at 2026-11-22 10:02:00Z", stopping.StateReason, StringComparison.Ordinal);
        Assert.Equal(PowerState.Stopped, wanted.Power);
        Assert.Equal(LeaseState.Stopped, stopped.State);
        Assert.Equal(LeaseState.Stopped, kept.State);
        Assert.Equal(LeaseState.Stopping, destroyed.State);
        Assert.Contains("expired at 2026-11-22 10:00:00Z", destroyed.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task ExtendedDuringTheGrace_IsNotDestroyed_AndCanBeStartedAgain()
    {
        var lease = await RunningLeaseAsync();
        _clock.Advance(TimeSpan.FromHours(1));
        await Manager.ExpireDueAsync(default);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);

        await _leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = lease.Id, By = Duration.FromTimeSpan(TimeSpan.FromHours(1)) });
        _clock.Advance(Grace + TimeSpan.FromMinutes(1));
        await Manager.ExpireDueAsync(default);
        var kept = await GetAsync(lease.Id);
        var started = await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Start });

        Assert.Equal(LeaseState.Stopped, kept.State);
        Assert.Equal(PowerState.Running, started.Power);
    }

    [Fact(Timeout = 20_000)]
    public async Task SaveInProgressAtTheEndOfTheGrace_IsWaitedFor()
    {
        var lease = await RunningLeaseAsync();
        _clock.Advance(TimeSpan.FromHours(1));
        await Manager.ExpireDueAsync(default);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "kept" });

        _clock.Advance(Grace + TimeSpan.FromMinutes(5));
        await Manager.ExpireDueAsync(default);
        var saving = await GetAsync(lease.Id);

        Assert.Equal(LeaseState.Stopped, saving.State);
        Assert.Equal(SaveState.Saving, saving.Save.State);
    }
}
