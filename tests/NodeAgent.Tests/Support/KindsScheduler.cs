using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Scheduler;

namespace NodeAgent.Tests.Support;

/// <summary>
/// The real scheduler on a <see cref="ManualClock"/> with the clients the lease-kind tests use: leases asked for by
/// several owners, hosts played over the agent protocol, and a wait for a lease to reach a state through WatchLease
/// (what ws does), so no test polls or sleeps.
/// </summary>
internal sealed class KindsScheduler : IAsyncDisposable
{
    /// <summary>A round start time, so the times in reasons are easy to read in a failing test.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    private readonly RunningScheduler _scheduler;
    private readonly RpcChannel _channel;

    private KindsScheduler(RunningScheduler scheduler, ManualClock clock)
    {
        _scheduler = scheduler;
        Clock = clock;
        _channel = scheduler.CreateChannel();
        Leases = new LeaseServiceClient(_channel);
        Agents = new AgentServiceClient(_channel);
        Hosts = new HostServiceClient(_channel);
    }

    public ManualClock Clock { get; }

    public LeaseServiceClient Leases { get; }

    public AgentServiceClient Agents { get; }

    public HostServiceClient Hosts { get; }

    /// <summary>One of the scheduler's own services, e.g. its metrics registry.</summary>
    public T Service<T>()
        where T : notnull => _scheduler.Service<T>();

    /// <param name="databasePath">The SQLite file; null for a fresh one. Two schedulers started on one file in turn are a restart.</param>
    public static async Task<KindsScheduler> StartAsync(ManualClock? clock = null, string? databasePath = null)
    {
        clock ??= new ManualClock(Start);
        var scheduler = await RunningScheduler.StartAsync(
            databasePath is null ? null : options => options with { DatabasePath = databasePath }, clock, emptyCatalogue: databasePath is not null && File.Exists(databasePath));
        return new KindsScheduler(scheduler, clock);
    }

    public async Task RegisterAsync(string host, uint vcpus = 4, double cpu = 0)
    {
        await Agents.RegisterHostAsync(new RegisterHostRequest { Host = HostApiTests.Info(host, vcpus) });
        await HeartbeatAsync(host, vcpus, cpu);
    }

    /// <summary>A heartbeat at the clock's time (hosts are down once the clock passes their last one by the TTL).</summary>
    public Task HeartbeatAsync(string host, uint vcpus = 4, double cpu = 0, params string[] held) =>
        Agents.HeartbeatAsync(new HeartbeatRequest
        {
            HostId = host,
            Capacity = HostApiTests.Info(host, vcpus).Capacity,
            Load = new HostLoad { CpuUtilization = cpu },
            WorkspaceIds = { held },
        });

    public static CreateLeaseRequest Request(LeaseKind kind = LeaseKind.Unspecified, uint vcpus = 1, TimeSpan? duration = null, DateTimeOffset? start = null) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = vcpus, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(duration ?? TimeSpan.FromHours(2)),
        Kind = kind,
        Start = start is { } s ? Timestamp.FromDateTimeOffset(s) : null,
    };

    public Task<Lease> CreateAsync(CreateLeaseRequest request, string owner = "alice") =>
        Leases.CreateLeaseAsync(request, new CallOptions { Headers = new Metadata { { "x-nodeagent-user", owner } } });

    public Task<Lease> BestEffortAsync(string owner, uint vcpus = 1, TimeSpan? duration = null) =>
        CreateAsync(Request(LeaseKind.BestEffort, vcpus, duration), owner);

    public Task<Lease> ReserveAsync(DateTimeOffset start, TimeSpan duration, uint vcpus = 4, string owner = "alice") =>
        CreateAsync(Request(LeaseKind.Reservation, vcpus, duration, start), owner);

    public Task<Lease> GetAsync(string id) => Leases.GetLeaseAsync(new GetLeaseRequest { Id = id });

    /// <summary>Releases the lease and reports its workspace gone, as its agent would: the lease ends and its capacity is free.</summary>
    public async Task EndAsync(Lease lease)
    {
        await Leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        await Agents.ReportWorkspaceStatusAsync(new ReportWorkspaceStatusRequest
        {
            HostId = lease.HostId,
            Statuses = { new WorkspaceStatus { Id = lease.Id, State = WorkspaceState.Gone } },
        });
    }

    /// <summary>Follows the lease through WatchLease until <paramref name="wanted"/> holds; fails after 10 seconds with the lease as last seen.</summary>
    public async Task<Lease> WaitForAsync(string id, Func<Lease, bool> wanted)
    {
        Lease? last = null;
        try
        {
            await foreach (var lease in Leases.WatchLeaseAsync(new GetLeaseRequest { Id = id }, CallOptions.WithTimeout(TimeSpan.FromSeconds(10))))
            {
                last = lease;
                if (wanted(lease))
                {
                    return lease;
                }
            }
        }
        catch (RpcException e) when (e.Status == StatusCode.DeadlineExceeded)
        {
        }

        throw new InvalidOperationException($"lease {id} never got there; last seen {last?.State}: {last?.StateReason}");
    }

    public async Task<DesiredWorkspaces> DesiredAsync(string host)
    {
        await foreach (var desired in Agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = host }, CallOptions.WithTimeout(TimeSpan.FromSeconds(5))))
        {
            return desired;
        }

        throw new InvalidOperationException($"no desired set for {host}");
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }
}
