using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// A host's desired set is sent once per version, so the set read under a version must already hold the change that
/// version stands for. With SQLite, writes queued behind one another commit as one batch, and the host cache learns
/// each write's version bump before that batch commits: a set read meanwhile is checked here.
/// </summary>
public sealed class DesiredSetVersionTests : IAsyncLifetime
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

    [Fact(Timeout = 60_000)]
    public async Task ReleaseCommittingInABatch_ASetReadMeanwhile_IsTheVersionItsLeasesBelongTo()
    {
        var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        var manager = _scheduler.Service<LeaseManager>();
        var store = _scheduler.Service<ILeaseStore>();
        var host = HostId.Parse("h1");
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
