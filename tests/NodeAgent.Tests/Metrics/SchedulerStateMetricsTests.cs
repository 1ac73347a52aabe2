using NodeAgent.Contract.V1;
using NodeAgent.Metrics;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metrics;

/// <summary>The scheduler's state as a scrape gives it: live leases by state across every kind, and the best-effort queue.</summary>
public sealed class SchedulerStateMetricsTests : IAsyncLifetime
{
    private KindsScheduler _s = null!;

    public async Task InitializeAsync() => _s = await KindsScheduler.StartAsync();

    public async Task DisposeAsync() => await _s.DisposeAsync();

    [Fact(Timeout = 15_000)]
    public async Task Scrape_LeasesOfEveryKind_CountsEachStateAndOnlyTheQueuedInTheQueue()
    {
        await _s.RegisterAsync("h1", vcpus: 4);
        var running = await _s.CreateAsync(KindsScheduler.Request(vcpus: 3));
        var queued = await _s.BestEffortAsync("bob", vcpus: 4);
        var reserved = await _s.ReserveAsync(KindsScheduler.Start + TimeSpan.FromDays(2), TimeSpan.FromHours(1), vcpus: 4);
        var refused = await _s.CreateAsync(KindsScheduler.Request(vcpus: 64));
        var ended = await _s.CreateAsync(KindsScheduler.Request(vcpus: 1));
        await _s.EndAsync(ended);
        await _s.WaitForAsync(ended.Id, l => l.State == LeaseState.Ended);

        var body = _s.Service<MetricsRegistry>().Render();

        Assert.Equal(
            (LeaseState.Starting, LeaseState.Pending, LeaseState.Pending, LeaseState.Failed),
            (running.State, queued.State, reserved.State, refused.State));
        Assert.Contains("nodeagent_scheduler_leases{state=\"starting\"} 1\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_leases{state=\"pending\"} 2\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_leases{state=\"running\"} 0\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("nodeagent_scheduler_leases{state=\"ended\"}", body, StringComparison.Ordinal);
        Assert.DoesNotContain("nodeagent_scheduler_leases{state=\"failed\"}", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_queue_length 1\n", body, StringComparison.Ordinal);
    }
}
