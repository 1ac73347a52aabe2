using NodeAgent.Agent.Metering;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Tests.Metering;

/// <summary>Readings a test sets by hand, standing in for libvirt and the cgroups of running guests.</summary>
internal sealed class SetReadings : IUsageSource
{
    public List<WorkspaceReading> Current { get; } = [];

    public IReadOnlyList<WorkspaceReading> Read() => Current.ToList();

    public static WorkspaceReading Running(string id, double cpu, ulong rx = 0, int pid = 100, ulong diskWriteOps = 0) =>
        new(id, "alice", true, pid, 1UL << 30, 512UL << 20, new UsageCounters(CpuSeconds: cpu, VcpuSeconds: cpu * 0.9, NetRxBytes: rx, DiskWriteOps: diskWriteOps));

    public static WorkspaceReading Off(string id) => new(id, "alice", false, 0, 0, 0, UsageCounters.Zero);
}

/// <summary>
/// The scheduler's side of ReportUsage as a test needs it: stores each (host, sequence) once, acknowledges the highest
/// sequence up to which it holds every record, and can be told to lose its answer after storing (a partition).
/// </summary>
internal sealed class RecordingUsageServer : UsageServiceBase
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, UsageRecord> _stored = [];

    /// <summary>How many of the next calls store their records and then fail, as if the answer were lost.</summary>
    public int AnswersToLose { get; set; }

    public List<IReadOnlyList<ulong>> Batches { get; } = [];

    /// <summary>Each call's journal epoch, and the epochs its records carried.</summary>
    public List<(ulong Request, IReadOnlyList<ulong> Records)> Epochs { get; } = [];

    public int RecordsReceived { get; private set; }

    public IReadOnlyList<UsageRecord> Stored
    {
        get { lock (_lock) { return _stored.Values.ToList(); } }
    }

    public override Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context)
    {
        lock (_lock)
        {
            Batches.Add(request.Records.Select(r => r.Sequence).ToList());
            Epochs.Add((request.JournalEpoch, request.Records.Select(r => r.JournalEpoch).Distinct().ToList()));
            RecordsReceived += request.Records.Count;
            foreach (var record in request.Records)
            {
                _stored.TryAdd(record.Sequence, record);
            }

            ulong contiguous = 0;
            while (_stored.ContainsKey(contiguous + 1))
            {
                contiguous++;
            }

            if (AnswersToLose > 0)
            {
                AnswersToLose--;
                throw new RpcException(StatusCode.Unavailable, "connection reset after the records were stored");
            }

            return Task.FromResult(new ReportUsageResponse { AcknowledgedSequence = contiguous });
        }
    }
}
