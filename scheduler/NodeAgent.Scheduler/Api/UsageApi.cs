using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Security;
using NodeAgent.Scheduler.Usage;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// nodeagent.v1.UsageService: validates agents' usage batches and readers' queries, and translates them to and
/// from <see cref="UsageLedger"/>. Every problem of a batch is named at once, record by record. A batch comes from one
/// journal: every record carries the request's journal epoch.
/// </summary>
/// <param name="projectOf">The project of a lease the scheduler knows (null when it does not): usage is charged to it, whatever the agent says.</param>
internal sealed class UsageApi(UsageLedger ledger, Func<string, string?> projectOf) : V1.UsageServiceBase
{
    /// <summary>The most records one ReportUsage may carry.</summary>
    public const int MaxBatch = 1000;

    /// <summary>Counters above 2^53 (8 PiB in a period) are refused: no host meters that much, and sums stay exact.</summary>
    public const ulong MaxCounter = 1UL << 53;

    private static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Latest = new(2200, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override async Task<V1.ReportUsageResponse> ReportUsage(V1.ReportUsageRequest request, ServerCallContext context)
    {
        Caller.Of(context).RequireHost(request.HostId);
        var v = new RequestValidator("ReportUsage");
        var host = v.HostId("host_id", request.HostId);
        v.Count("records", request.Records.Count, MaxBatch);
        var entries = request.Records.Count > MaxBatch ? [] : request.Records.Select((r, i) => ToEntry(r, $"records[{i}]", request, host, v)).ToList();
        var duplicates = request.Records.GroupBy(r => r.Sequence).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
        v.Require(duplicates.Count == 0, $"records repeat the sequence {string.Join(", ", duplicates)}; each record of a journal has its own");
        v.ThrowIfInvalid();

        var result = await ledger.ReportAsync(host, request.JournalEpoch, entries, context.CancellationToken);
        return new V1.ReportUsageResponse { AcknowledgedSequence = (ulong)result.Acknowledged };
    }

    public override Task<V1.GetUsageResponse> GetUsage(V1.GetUsageRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("GetUsage");
        var caller = Caller.Of(context);
        var owner = request.Owner.Length > 0 ? v.Name("owner", request.Owner) : caller.User;
        var project = request.Project.Length > 0 ? v.Name("project", request.Project) : null;
        if (!caller.IsAdmin)
        {
            // A user reads their own project's usage only.
            if (project is not null && project != caller.Project)
            {
                throw new RpcException(StatusCode.PermissionDenied, $"GetUsage: this token ({caller.Describe()}) reads its own project's usage only");
            }

            project = caller.Project;
        }
        var from = request.From is null ? Earliest : Time("from", request.From, v);
        var to = request.To is null ? Latest : Time("to", request.To, v);
        v.Require(from <= to, $"from ({from:u}) is after to ({to:u}); the range is [from, to)");
        var grouping = Grouping(request.GroupBy, v);
        v.ThrowIfInvalid();

        var query = new UsageQuery(owner, project, from, to);
        var response = new V1.GetUsageResponse();
        response.Totals.Add(ledger.Totals(query, grouping).Select(ToWire));
        if (!request.TotalsOnly)
        {
            try
            {
                response.Records.Add(ledger.Records(query).Select(ToWire));
            }
            catch (TooMuchUsageException e)
            {
                throw new RpcException(StatusCode.ResourceExhausted, "GetUsage: " + e.Message);
            }
        }

        return Task.FromResult(response);
    }

    private UsageEntry ToEntry(V1.UsageRecord r, string at, V1.ReportUsageRequest request, HostId host, RequestValidator v)
    {
        var hostText = request.HostId;
        v.Require(r.HostId.Length == 0 || r.HostId == hostText, $"{at}.host_id '{IdSyntax.Printable(r.HostId)}' is not the reporting host {hostText}; a host reports only its own usage");
        v.Require(
            r.JournalEpoch == request.JournalEpoch,
            $"{at}.journal_epoch is {r.JournalEpoch}, not the request's journal_epoch {request.JournalEpoch}; a request carries the records of one journal, so send each epoch's records in a request of that epoch");
        v.LeaseId($"{at}.lease_id", r.LeaseId);
        v.Name($"{at}.owner", r.Owner);
        var project = projectOf(r.LeaseId) ?? (r.Project.Length == 0 ? r.Owner : v.Name($"{at}.project", r.Project));
        var sequence = v.Range($"{at}.sequence", r.Sequence, 1, long.MaxValue);
        var period = (int)v.Range($"{at}.period_seconds", r.PeriodSeconds, 1, 3600);
        v.Require(r.PoweredOnSeconds <= r.PeriodSeconds, $"{at}.powered_on_seconds is {r.PoweredOnSeconds}, more than its period_seconds {r.PeriodSeconds}");
        return new UsageEntry(
            host, request.JournalEpoch, sequence, r.LeaseId, r.Owner, project,
            r.PeriodStart is null ? Missing(v, $"{at}.period_start") : Time($"{at}.period_start", r.PeriodStart, v),
            period,
            v.NonNegative($"{at}.cpu_seconds", r.CpuSeconds),
            v.NonNegative($"{at}.vcpu_seconds", r.VcpuSeconds),
            Counter(v, $"{at}.memory_bytes", r.MemoryBytes),
            Counter(v, $"{at}.memory_resident_bytes", r.MemoryResidentBytes),
            Counter(v, $"{at}.net_rx_bytes", r.NetRxBytes),
            Counter(v, $"{at}.net_tx_bytes", r.NetTxBytes),
            Counter(v, $"{at}.net_rx_packets", r.NetRxPackets),
            Counter(v, $"{at}.net_tx_packets", r.NetTxPackets),
            Counter(v, $"{at}.disk_read_bytes", r.DiskReadBytes),
            Counter(v, $"{at}.disk_write_bytes", r.DiskWriteBytes),
            Counter(v, $"{at}.disk_read_ops", r.DiskReadOps),
            Counter(v, $"{at}.disk_write_ops", r.DiskWriteOps),
            (int)r.PoweredOnSeconds);
    }

    private static long Counter(RequestValidator v, string field, ulong value) => v.Range(field, value, 0, MaxCounter);

    private static DateTimeOffset Missing(RequestValidator v, string field)
    {
        v.Require(false, $"{field} is missing");
        return Earliest;
    }

    private static DateTimeOffset Time(string field, Timestamp value, RequestValidator v)
    {
        if (value.Nanos is < 0 or > 999_999_999 || value.Seconds < Earliest.ToUnixTimeSeconds() || value.Seconds >= Latest.ToUnixTimeSeconds())
        {
            v.Require(false, $"{field} is {value.Seconds}s after 1970; it must be a valid time between {Earliest:yyyy} and {Latest:yyyy}");
            return Earliest;
        }

        return value.ToDateTimeOffset();
    }

    private static UsageGrouping Grouping(V1.UsageGrouping value, RequestValidator v)
    {
        switch (value)
        {
            case V1.UsageGrouping.Unspecified: return UsageGrouping.None;
            case V1.UsageGrouping.Lease: return UsageGrouping.Lease;
            case V1.UsageGrouping.Project: return UsageGrouping.Project;
            case V1.UsageGrouping.Owner: return UsageGrouping.Owner;
            default:
                v.Require(false, $"group_by is {(int)value}; it must be USAGE_GROUPING_UNSPECIFIED, _LEASE, _PROJECT or _OWNER");
                return UsageGrouping.None;
        }
    }

    private static V1.UsageRecord ToWire(UsageEntry e) => new()
    {
        HostId = e.Host.Value,
        JournalEpoch = e.JournalEpoch,
        Sequence = (ulong)e.Sequence,
        LeaseId = e.LeaseId,
        Owner = e.Owner,
        Project = e.Project,
        PeriodStart = Timestamp.FromDateTimeOffset(e.PeriodStart),
        PeriodSeconds = (uint)e.PeriodSeconds,
        CpuSeconds = e.CpuSeconds,
        VcpuSeconds = e.VcpuSeconds,
        MemoryBytes = (ulong)e.MemoryBytes,
        MemoryResidentBytes = (ulong)e.MemoryResidentBytes,
        NetRxBytes = (ulong)e.NetRxBytes,
        NetTxBytes = (ulong)e.NetTxBytes,
        NetRxPackets = (ulong)e.NetRxPackets,
        NetTxPackets = (ulong)e.NetTxPackets,
        DiskReadBytes = (ulong)e.DiskReadBytes,
        DiskWriteBytes = (ulong)e.DiskWriteBytes,
        DiskReadOps = (ulong)e.DiskReadOps,
        DiskWriteOps = (ulong)e.DiskWriteOps,
        PoweredOnSeconds = (uint)e.PoweredOnSeconds,
    };

    private static V1.UsageTotal ToWire(UsageSum s) => new()
    {
        Key = s.Key,
        Records = (ulong)s.Records,
        CpuSeconds = s.CpuSeconds,
        VcpuSeconds = s.VcpuSeconds,
        MemoryByteSeconds = s.MemoryByteSeconds,
        PoweredOnSeconds = (ulong)s.PoweredOnSeconds,
        NetRxBytes = (ulong)s.NetRxBytes,
        NetTxBytes = (ulong)s.NetTxBytes,
        DiskReadBytes = (ulong)s.DiskReadBytes,
        DiskWriteBytes = (ulong)s.DiskWriteBytes,
        FirstPeriodStart = Timestamp.FromDateTimeOffset(s.FirstPeriodStart),
        LastPeriodStart = Timestamp.FromDateTimeOffset(s.LastPeriodStart),
    };
}
