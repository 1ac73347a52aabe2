using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Leases through the scheduler's real API; the agent's side is played over the agent protocol.</summary>
public sealed class LeaseApiTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private AgentServiceClient _agents = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: _clock);
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _agents = new AgentServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private async Task RegisterAsync(string id, uint vcpus = 4, double cpuUtilization = 0)
    {
        var info = HostApiTests.Info(id, vcpus);
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await _agents.HeartbeatAsync(new HeartbeatRequest { HostId = id, Capacity = info.Capacity, Load = new HostLoad { CpuUtilization = cpuUtilization } });
    }

    private static CreateLeaseRequest Request(uint vcpus = 1, string image = "debian-12", string requestId = "") => new()
    {
        Image = image,
        Resources = new Resources { Vcpus = vcpus, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        RequestId = requestId,
    };

    private Task<ReportWorkspaceStatusResponse> ReportAsync(string host, string lease, WorkspaceState state, string message = "") =>
        _agents.ReportWorkspaceStatusAsync(new ReportWorkspaceStatusRequest { HostId = host, Statuses = { new WorkspaceStatus { Id = lease, State = state, Message = message } } });

    private async Task<DesiredWorkspaces> DesiredAsync(string host)
    {
        await foreach (var desired in _agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = host }, CallOptions.WithTimeout(TimeSpan.FromSeconds(5))))
        {
            return desired;
        }

        throw new InvalidOperationException("no desired set");
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_NoHosts_FailsSayingNoHostIsRegistered()
    {
        var lease = await _leases.CreateLeaseAsync(Request());

        Assert.Equal(LeaseState.Failed, lease.State);
        Assert.Contains("no host is registered", lease.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_TwoHosts_PlacedOnTheOneWithLowerMeasuredLoad()
    {
        await RegisterAsync("busy", cpuUtilization: 0.9);
        await RegisterAsync("idle", cpuUtilization: 0.1);

        var lease = await _leases.CreateLeaseAsync(Request());

        Assert.Equal(LeaseState.Starting, lease.State);
        Assert.Equal("idle", lease.HostId);
        var desired = await DesiredAsync("idle");
        Assert.Equal(lease.Id, Assert.Single(desired.Workspaces).Id);
        Assert.Empty((await DesiredAsync("busy")).Workspaces);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_HostFull_FailsNamingTheReasonPerHost()
    {
        await RegisterAsync("small", vcpus: 2);
        await _leases.CreateLeaseAsync(Request(vcpus: 2));

        var refused = await _leases.CreateLeaseAsync(Request(vcpus: 1));

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("no host can take it: 1 host: insufficient vCPUs", refused.StateReason);
    }

    [Fact(Timeout = 20_000)]
    public async Task CreateLease_ConcurrentRequests_NeverOvercommitTheHost()
    {
        await RegisterAsync("only", vcpus: 8);

        var leases = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _leases.CreateLeaseAsync(Request(vcpus: 1))));

        Assert.Equal(8, leases.Count(l => l.State == LeaseState.Starting));
        Assert.Equal(12, leases.Count(l => l.State == LeaseState.Failed));
        Assert.Equal(8, (await DesiredAsync("only")).Workspaces.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Lifecycle_RunningThenReleaseThenGone_EndsAndLeavesTheDesiredSet()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());

        await ReportAsync("h1", lease.Id, WorkspaceState.Running);
        var running = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });
        var stopping = await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        var desiredWhileStopping = await DesiredAsync("h1");
        await ReportAsync("h1", lease.Id, WorkspaceState.Gone);
        var ended = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });

        Assert.Equal(LeaseState.Running, running.State);
        Assert.Equal(LeaseState.Stopping, stopping.State);
        Assert.Empty(desiredWhileStopping.Workspaces);
        Assert.Equal(LeaseState.Ended, ended.State);
        Assert.Equal("released; removed from h1", ended.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Heartbeat_StoppingWorkspaceNoLongerHeld_LeaseEnds()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());
        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });

        await _agents.HeartbeatAsync(new HeartbeatRequest { HostId = "h1", Capacity = HostApiTests.Info("h1").Capacity });

        Assert.Equal(LeaseState.Ended, (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id })).State);
    }

    [Fact(Timeout = 10_000)]
    public async Task AgentReportsFailure_LeaseFailsWithTheAgentsReason()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());

        await ReportAsync("h1", lease.Id, WorkspaceState.Failed, "image debian-12 is not in the image cache");

        var failed = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });
        Assert.Equal(LeaseState.Failed, failed.State);
        Assert.Contains("image debian-12 is not in the image cache", failed.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task ReportFromAnotherHost_IsIgnored()
    {
        await RegisterAsync("h1");
        await RegisterAsync("h2", cpuUtilization: 0.99);
        var lease = await _leases.CreateLeaseAsync(Request());

        await ReportAsync("h2", lease.Id, WorkspaceState.Running);

        Assert.Equal(LeaseState.Starting, (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id })).State);
    }

    [Fact(Timeout = 15_000)]
    public async Task Expiry_TimeAndGraceUp_LeaseStopsWithinAboutASecond()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());

        // Expiry's service ticks on its own; a lease never reported running has no guest to shut down first, and is
        // removed once its end and the grace have passed (LeaseExpiryTests covers the stages).
        _clock.Advance(TimeSpan.FromHours(2) + NodeAgent.Scheduler.Leases.LeaseExpiryPolicy.Default.Grace + TimeSpan.FromSeconds(1));
        LeaseState state;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            state = (await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id })).State;
        }
        while (state != LeaseState.Stopping && waited.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Equal(LeaseState.Stopping, state);
        Assert.Empty((await DesiredAsync("h1")).Workspaces);
    }

    [Fact(Timeout = 10_000)]
    public async Task ExtendLease_MovesTheEnd()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());

        var extended = await _leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = lease.Id, By = Duration.FromTimeSpan(TimeSpan.FromHours(1)) });

        Assert.Equal(lease.ExpiresAt.ToDateTimeOffset() + TimeSpan.FromHours(1), extended.ExpiresAt.ToDateTimeOffset());
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_SameRequestId_ReturnsTheSameLease()
    {
        await RegisterAsync("h1");

        var first = await _leases.CreateLeaseAsync(Request(requestId: "retry-1"));
        var second = await _leases.CreateLeaseAsync(Request(requestId: "retry-1"));

        Assert.Equal(first.Id, second.Id);
        Assert.Single((await _leases.ListLeasesAsync(new ListLeasesRequest())).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task WatchLease_StreamsEachChangeUntilTheLeaseEnds()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());
        var states = new List<LeaseState>();
        var watching = Task.Run(async () =>
        {
            await foreach (var update in _leases.WatchLeaseAsync(new GetLeaseRequest { Id = lease.Id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(8))))
            {
                states.Add(update.State);
            }
        });

        await Task.Delay(200);
        await ReportAsync("h1", lease.Id, WorkspaceState.Running);
        await Task.Delay(200);
        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        await Task.Delay(200);
        await ReportAsync("h1", lease.Id, WorkspaceState.Gone);
        await watching;

        Assert.Equal([LeaseState.Starting, LeaseState.Running, LeaseState.Stopping, LeaseState.Ended], states);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("../../etc/passwd", 1UL << 30, 3600L, "image")]
    [InlineData("debian-12", 0UL, 3600L, "resources.memory_bytes")]
    [InlineData("debian-12", 1UL << 30, -5L, "duration")]
    [InlineData("debian-12", 1UL << 30, long.MaxValue, "duration")]
    [InlineData("img<script>", 1UL << 62, 0L, "image")]
    public async Task CreateLease_HostileValues_InvalidArgumentNamingTheField(string image, ulong memory, long seconds, string field)
    {
        var request = new CreateLeaseRequest
        {
            Image = image,
            Resources = new Resources { Vcpus = 1, MemoryBytes = memory },
            Duration = new Duration { Seconds = seconds },
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        Assert.Empty((await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_ForeignDomainsUseTheHost_TheyCountAgainstFreeCapacity()
    {
        var info = HostApiTests.Info("shared", vcpus: 4);
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await _agents.HeartbeatAsync(new HeartbeatRequest
        {
            HostId = "shared",
            Capacity = info.Capacity,
            Load = new HostLoad { Foreign = new Resources { Vcpus = 3, MemoryBytes = 1UL << 30 } },
        });

        var tooBig = await _leases.CreateLeaseAsync(Request(vcpus: 2));
        var fits = await _leases.CreateLeaseAsync(Request(vcpus: 1));

        Assert.Equal("no host can take it: 1 host: insufficient vCPUs", tooBig.StateReason);
        Assert.Equal(LeaseState.Starting, fits.State);
        var host = await new HostServiceClient(_channel).GetHostAsync(new GetHostRequest { HostId = "shared" });
        Assert.Equal(3u, host.Load.Foreign.Vcpus);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_HostReportsItselfDegraded_NothingNewIsPlacedThereAndWhyIsShown()
    {
        var info = HostApiTests.Info("sick");
        await _agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await _agents.HeartbeatAsync(new HeartbeatRequest { HostId = "sick", Capacity = info.Capacity, DegradedReason = "libvirt unavailable: connection refused" });

        var refused = await _leases.CreateLeaseAsync(Request());
        var host = await new HostServiceClient(_channel).GetHostAsync(new GetHostRequest { HostId = "sick" });
        await _agents.HeartbeatAsync(new HeartbeatRequest { HostId = "sick", Capacity = info.Capacity });
        var placed = await _leases.CreateLeaseAsync(Request());

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Contains("1 host: degraded", refused.StateReason, StringComparison.Ordinal);
        Assert.Equal(HostHealth.Degraded, host.Health);
        Assert.Equal("libvirt unavailable: connection refused", host.HealthReason);
        Assert.Equal("sick", placed.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task GetLease_Unknown_NotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.GetLeaseAsync(new GetLeaseRequest { Id = "w-nothere" }));

        Assert.Equal(StatusCode.NotFound, error.Status);
    }

    /// <summary>
    /// A host's desired set is sent once per version, so the set read under a version must already hold the change
    /// that version stands for. With SQLite, writes queued behind one another commit as one batch, and the host cache
    /// learns each write's version bump before that batch commits: a set read meanwhile is checked here.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task ReleaseCommittingInABatch_ASetReadMeanwhile_IsTheVersionItsLeasesBelongTo()
    {
        await RegisterAsync("h1");
        var lease = await _leases.CreateLeaseAsync(Request());
        await ReportAsync("h1", lease.Id, WorkspaceState.Running);
        var manager = _scheduler.Service<NodeAgent.Scheduler.Leases.LeaseManager>();
        var store = _scheduler.Service<NodeAgent.Scheduler.Store.ILeaseStore>();
        var host = NodeAgent.Contract.HostId.Parse("h1");
        var before = manager.DesiredFor(host);
        Assert.Contains(before.Workspaces, l => l.Id.Value == lease.Id);

        // The writer is held, the release queues behind it, and a write that waits queues behind the release: once
        // the writer is let go, the release runs and the batch stays open until the last write is let go too.
        using var holding = new ManualResetEventSlim();
        using var letGo = new ManualResetEventSlim();
        var held = Task.Run(() => store.WriteAsync(_ => Hold(holding, letGo)));
        Assert.True(holding.Wait(TimeSpan.FromSeconds(20)), "the holding write did not start");
        var release = _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        await Task.Delay(300);
        using var waiting = new ManualResetEventSlim();
        using var letGoToo = new ManualResetEventSlim();
        var last = Task.Run(() => store.WriteAsync(_ => Hold(waiting, letGoToo)));
        await Task.Delay(300);
        letGo.Set();

        // With SQLite the release ran and the batch is open (the writer that held it is the one that runs the batch,
        // so the holding write answers only after it); otherwise the release may have committed already.
        Assert.True(waiting.Wait(TimeSpan.FromSeconds(20)), "the last write did not start");
        var meanwhile = manager.DesiredFor(host);
        letGoToo.Set();
        await Task.WhenAll(held, last, release);
        var after = manager.DesiredFor(host);

        var holdsIt = meanwhile.Workspaces.Any(l => l.Id.Value == lease.Id);
        Assert.True(meanwhile.Version == before.Version ? holdsIt : !holdsIt,
            $"version {meanwhile.Version} (before the release {before.Version}) {(holdsIt ? "still holds" : "lacks")} the released lease");
        Assert.True(after.Version > before.Version);
        Assert.DoesNotContain(after.Workspaces, l => l.Id.Value == lease.Id);
    }

    private static int Hold(ManualResetEventSlim inside, ManualResetEventSlim letGo)
    {
        inside.Set();
        letGo.Wait(TimeSpan.FromSeconds(30));
        return 0;
    }
}
