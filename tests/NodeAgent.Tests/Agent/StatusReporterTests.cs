using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>The agent's status reports against the real scheduler: one it refuses must not hold back the others.</summary>
public sealed class StatusReporterTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private NodeAgent.Rpc.Client.RpcChannel _channel = null!;

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

    [Fact(Timeout = 20_000)]
    public async Task Report_OneTheSchedulerRefuses_DroppedAndTheOthersArriveWithMultiLineMessagesAsOneLine()
    {
        var leases = new LeaseServiceClient(_channel);
        var lease = await leases.CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 256UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        var host = new HostDescription(HostId.Parse("h1"), "h1", "x86_64", "qemu", 2, 1L << 30, 1L << 30);
        using var reporter = new StatusReporter(new AgentServiceClient(_channel), host, TimeProvider.System, NullLogger<StatusReporter>.Instance);

        // Both queued before the reporter runs, so they go out in one batch.
        reporter.Report("not a lease id", WorkspaceState.Running);
        reporter.Report(lease.Id, WorkspaceState.Failed, "virDomainCreate failed: tc: Error\nWe have an error talking to the kernel");
        await reporter.StartAsync(default);
        Lease now;
        do
        {
            await Task.Delay(50);
            now = await leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });
        }
        while (now.State != LeaseState.Failed);

        await reporter.StopAsync(default);
        Assert.Contains("tc: Error We have an error talking to the kernel", now.StateReason, StringComparison.Ordinal);
    }
}
