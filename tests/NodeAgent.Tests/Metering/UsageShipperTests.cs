using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>Shipping over real gRPC on loopback to a recording ReportUsage server: outage, lost answers, batches.</summary>
public sealed class UsageShipperTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();
    private readonly RecordingUsageServer _service = new();
    private readonly List<TimeSpan> _waits = [];
    private TestRpcServer _server = null!;
    private UsageJournal _journal = null!;

    public async Task InitializeAsync()
    {
        _server = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(_service));
        _journal = UsageJournal.Open(_dir.Path);
    }

    public async Task DisposeAsync()
    {
        _journal.Dispose();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    [Fact(Timeout = 30_000)]
    public async Task SchedulerDown_RecordsStayOnDisk_ThenAllAreShippedOnceItAnswers()
    {
        AppendSamples(3);
        using var closed = new RpcChannel(new Uri($"http://127.0.0.1:{ClosedPort()}"));

        await Assert.ThrowsAsync<RpcException>(() => Shipper(closed).ShipOnceAsync(CancellationToken.None));

        Assert.Equal(3, _journal.PendingCount);
        _journal.Dispose();
        _journal = UsageJournal.Open(_dir.Path); // and they are on disk, not only in memory
        Assert.Equal(3, _journal.PendingCount);

        using var channel = _server.CreateChannel();
        Assert.Equal(3, await Shipper(channel).ShipOnceAsync(CancellationToken.None));

        Assert.Equal([1UL, 2UL, 3UL], _service.Stored.Select(r => r.Sequence));
        Assert.NotEqual(0UL, _journal.Epoch);
        var call = Assert.Single(_service.Epochs);
        Assert.Equal(_journal.Epoch, call.Request);
        Assert.Equal([_journal.Epoch], call.Records);
        Assert.Equal(0, _journal.PendingCount);
        _journal.Dispose();
        _journal = UsageJournal.Open(_dir.Path);
        Assert.Equal(0, _journal.PendingCount);
        Assert.Equal(3UL, _journal.AcknowledgedSequence);
    }

    [Fact(Timeout = 30_000)]
    public async Task Partition_AnswerLostAfterStoring_RecordsAreResent_AndStoredOnceEach()
    {
        AppendSamples(4);
        _service.AnswersToLose = 2;
        var expectedCpu = _journal.Pending(100).Sum(r => r.CpuSeconds);
        using var channel = _server.CreateChannel();
        using var shipper = Shipper(channel);

        await shipper.StartAsync(CancellationToken.None);
        while (_journal.PendingCount > 0)
        {
            await Task.Delay(10);
        }

        await shipper.StopAsync(CancellationToken.None);

        Assert.Equal(3, _service.Batches.Count); // two calls whose answers were lost, then one acknowledged
        Assert.All(_service.Batches, b => Assert.Equal([1UL, 2UL, 3UL, 4UL], b));
        Assert.Equal(12, _service.RecordsReceived);
        Assert.Equal(4, _service.Stored.Count);
        Assert.Equal(expectedCpu, _service.Stored.Sum(r => r.CpuSeconds), 9);
        Assert.Equal(2, _waits.Count); // backed off after each failure
        Assert.Equal(4UL, _journal.AcknowledgedSequence);
    }

    [Fact(Timeout = 30_000)]
    public async Task ManyRecords_ShippedInSequenceOrderInBatchesOfAtMost500()
    {
        for (var i = 0; i < 12; i++)
        {
            _journal.Append(Enumerable.Range(0, 100).Select(n => UsageJournalTests.Record("w" + n, 1)).ToList(),
                new Dictionary<string, UsageBaseline>(), T0.AddMinutes(i));
        }

        using var channel = _server.CreateChannel();
        var shipper = Shipper(channel);
        var shipped = new List<int>();
        while (_journal.PendingCount > 0)
        {
            shipped.Add(await shipper.ShipOnceAsync(CancellationToken.None));
        }

        Assert.Equal([500, 500, 200], shipped);
        Assert.Equal([500, 500, 200], _service.Batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(1, 1200).Select(n => (ulong)n), _service.Batches.SelectMany(b => b));
    }

    private void AppendSamples(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _journal.Append([UsageJournalTests.Record("w1", 10 + i)], new Dictionary<string, UsageBaseline>(), T0.AddMinutes(i));
        }
    }

    private UsageShipper Shipper(RpcChannel channel) => new(
        _journal, new UsageServiceClient(channel), "h1", new Backoff(new Random(1), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)),
        (wait, _) =>
        {
            lock (_waits)
            {
                _waits.Add(wait);
            }

            return Task.CompletedTask;
        },
        TimeSpan.FromMinutes(1), NullLogger<UsageShipper>.Instance);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
