using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Reporting;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Journal epochs: sequences and acknowledgement are per (host, epoch), so a host whose journal was lost is not taken for resends.</summary>
public sealed partial class UsageApiTests
{
    private const ulong EpochA = 0xA11CE_0000_0001;
    private const ulong EpochB = 0xFFFF_FFFF_FFFF_FFF0; // above 2^63: kept in SQLite as a negative integer

    private static ReportUsageRequest EpochBatch(ulong epoch, params ulong[] sequences)
    {
        var request = Batch("h1", sequences.Select(s => Record(s)).ToArray());
        request.JournalEpoch = epoch;
        foreach (var record in request.Records)
        {
            record.JournalEpoch = epoch;
        }

        return request;
    }

    private async Task<ulong> ReportAsync(ulong epoch, params ulong[] sequences) =>
        (await _usage.ReportUsageAsync(EpochBatch(epoch, sequences))).AcknowledgedSequence;

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_TwoEpochsWithOverlappingSequences_BothStoredAndAcknowledgedSeparately()
    {
        Assert.Equal(5UL, await ReportAsync(EpochA, 1, 2, 3, 4, 5));

        Assert.Equal(3UL, await ReportAsync(EpochB, 1, 2, 3)); // a new epoch starts its own count, below A's 5
        Assert.Equal(3UL, await ReportAsync(EpochB, 5)); // B's 4 is missing; A's 4 does not fill it
        Assert.Equal(5UL, await ReportAsync(EpochA));
        Assert.Equal(5UL, await ReportAsync(EpochB, 4));
        Assert.Equal(0UL, await ReportAsync(0UL));

        var stored = (await GetAsync()).Records;
        Assert.Equal(10, stored.Count);
        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL], stored.Where(r => r.JournalEpoch == EpochA).Select(r => r.Sequence).Order());
        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL], stored.Where(r => r.JournalEpoch == EpochB).Select(r => r.Sequence).Order());
        Assert.Equal(300.0, Assert.Single((await GetAsync(new GetUsageRequest { TotalsOnly = true })).Totals).CpuSeconds);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_ResendWithinAnEpoch_StoredOnce()
    {
        Assert.Equal(3UL, await ReportAsync(EpochB, 1, 2, 3));
        Assert.Equal(4UL, await ReportAsync(EpochB, 2, 3, 4));
        Assert.Equal(4UL, await ReportAsync(EpochB, 1, 2, 3, 4));

        var total = Assert.Single((await GetAsync(new GetUsageRequest { TotalsOnly = true })).Totals);
        Assert.Equal(4UL, total.Records);
        Assert.Equal(120.0, total.CpuSeconds);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_RecordEpochNotTheRequests_InvalidArgumentNamingEachAndNothingStored()
    {
        var request = EpochBatch(EpochA, 1, 2, 3);
        request.Records[1].JournalEpoch = EpochB;
        request.Records[2].JournalEpoch = 0;

        var e = await Assert.ThrowsAsync<RpcException>(() => _usage.ReportUsageAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.Contains($"records[1].journal_epoch is {EpochB}, not the request's journal_epoch {EpochA}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"records[2].journal_epoch is 0, not the request's journal_epoch {EpochA}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("records[0]", e.Message, StringComparison.Ordinal);
        Assert.Empty((await GetAsync()).Records);
        Assert.Equal(0UL, await ReportAsync(EpochA));
    }

    [Fact(Timeout = 30_000)]
    public async Task ReportUsage_AgentJournalLostAndRecreated_ItsNewRecordsAreStoredAndAcknowledged()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        using (var journal = UsageJournal.Open(first.Path, new Random(1)))
        {
            journal.Append([Record(0), Record(0), Record(0)], new Dictionary<string, UsageBaseline>(), Start);
            Assert.Equal(3, await Shipper(journal).ShipOnceAsync(CancellationToken.None));
        }

        // The host's state directory is gone: a new journal numbers from 1 again, under a new epoch.
        using var fresh = UsageJournal.Open(second.Path, new Random(2));
        fresh.Append([Record(0, minute: 10), Record(0, minute: 10)], new Dictionary<string, UsageBaseline>(), Start.AddMinutes(10));
        var shipped = await Shipper(fresh).ShipOnceAsync(CancellationToken.None);

        Assert.Equal(2, shipped);
        Assert.Equal(2UL, fresh.AcknowledgedSequence);
        var stored = (await GetAsync()).Records;
        Assert.Equal([1UL, 1UL, 2UL, 2UL, 3UL], stored.Select(r => r.Sequence).Order());
        Assert.Equal([fresh.Epoch, fresh.Epoch], stored.Where(r => r.PeriodStart.ToDateTimeOffset() == Start.AddMinutes(10)).Select(r => r.JournalEpoch));
    }

    private UsageShipper Shipper(UsageJournal journal) => new(
        journal, _usage, "h1", new Backoff(new Random(1), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)),
        (_, _) => Task.CompletedTask, TimeSpan.FromMinutes(1), NullLogger<UsageShipper>.Instance);
}
