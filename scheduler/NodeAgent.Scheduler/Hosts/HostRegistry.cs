using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>The host is not registered; the message says what to do.</summary>
public sealed class HostNotFoundException(HostId id)
    : Exception($"host {id} is not registered; its agent registers it on start (check that nodeagent runs there and reaches this scheduler)")
{
    public HostId HostId { get; } = id;
}

/// <summary>The leases whose workspaces a host should hold, at a version (see <see cref="Lease.WantsWorkspace"/>).</summary>
public sealed record DesiredSet(HostId HostId, long Version, IReadOnlyList<Lease> Workspaces);

/// <summary>
/// Hosts: registration, heartbeats, health from the heartbeat TTL, and the desired set each host watches.
/// </summary>
public sealed partial class HostRegistry(IHostStore store, SchedulerOptions options, TimeProvider time, ILogger<HostRegistry> logger)
{
    public ChangeSignal<HostId> DesiredChanges { get; } = new();

    public TimeSpan HeartbeatInterval => options.HeartbeatInterval;

    private long _heartbeatTtlTicks = options.HeartbeatTtl.Ticks;

    /// <summary>A host with no heartbeat for this long is down; a reload may change it (agents hear it when they register).</summary>
    public TimeSpan HeartbeatTtl
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _heartbeatTtlTicks));
        set => Interlocked.Exchange(ref _heartbeatTtlTicks, value.Ticks);
    }

    public async Task RegisterAsync(HostRegistration registration, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await store.UpsertAsync(registration, now, cancellationToken);
        await store.RecordHeartbeatAsync(new Heartbeat(registration.Id, registration.Capacity, HostLoad.Unknown, now), cancellationToken);
        LiveOf(registration.Id).RecordedAt = now;
        LogRegistered(logger, registration.Id.Value, registration.Hostname, registration.Capacity.Vcpus, registration.Capacity.MemoryBytes);
    }

    /// <summary>
    /// Records a heartbeat and returns the host's desired-set version. The database gets it when the host's capacity,
    /// foreign use or degradation changed, or when the last one it got is half the TTL old; otherwise it is kept in
    /// memory (<see cref="IHostStore.NoteHeartbeat"/>), where placement and health read it. So the database knows every
    /// host's liveness to within half the TTL (a host it shows as down is down), and with the default interval and
    /// TTL (5 s, 15 s) every other heartbeat is written.
    /// </summary>
    public async Task<long> HeartbeatAsync(HostId id, Resources capacity, HostLoad load, string degradedReason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var heartbeat = new Heartbeat(id, capacity, load, now, degradedReason);
        var host = store.Find(id) ?? throw new HostNotFoundException(id);
        var live = LiveOf(id);
        if (MustRecord(host, live, heartbeat))
        {
            if (!await store.RecordHeartbeatAsync(heartbeat, cancellationToken))
            {
                throw new HostNotFoundException(id);
            }

            live.RecordedAt = now;
        }
        else if (!store.NoteHeartbeat(heartbeat))
        {
            throw new HostNotFoundException(id);
        }

        live.Observe(options.LoadHalfLife, now, load, capacity);
        return Get(id).DesiredVersion;
    }

    private bool MustRecord(HostRecord host, HostLive live, Heartbeat heartbeat) =>
        live.RecordedAt is not { } recorded
        || heartbeat.ReceivedAt - recorded >= HeartbeatTtl / 2
        || heartbeat.Capacity != host.Registration.Capacity
        || heartbeat.Load.Foreign with { DiskBytes = 0 } != host.Load.Foreign
        || heartbeat.DegradedReason != host.DegradedReason;

    /// <summary>
    /// Remembers the digests of the images cached on the host, as its latest heartbeat listed them. Kept in memory
    /// only: it is a placement preference, and every heartbeat brings it again.
    /// </summary>
    /// <remarks>The set is built again only when the list changed: most heartbeats bring the same images.</remarks>
    public void RecordCachedImages(HostId id, IReadOnlyCollection<string> digests)
    {
        if (Live(id) is not { } live)
        {
            return;
        }

        var known = live.CachedImages;
        if (known.Count != digests.Count || !digests.All(known.Contains))
        {
            live.CachedImages = digests.ToFrozenSet(StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// What the host's heartbeats brought since this scheduler started (<see cref="HostLive"/>): its smoothed CPU
    /// utilization and memory pressure (half-life --load-half-life) and its cached images, kept beside its row in the
    /// host cache; null when the host is not registered. Kept in memory: every heartbeat brings them again.
    /// </summary>
    public HostLive? Live(HostId id) => store.Live(id);

    private HostLive LiveOf(HostId id) => store.Live(id) ?? throw new HostNotFoundException(id);

    public IReadOnlyList<HostRecord> List() => store.List();

    public HostRecord Get(HostId id) => store.Find(id) ?? throw new HostNotFoundException(id);

    public HostRecord? Find(HostId id) => store.Find(id);

    public HostHealth HealthOf(HostRecord host) => host.HealthAt(time.GetUtcNow(), HeartbeatTtl);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Host {HostId} registered ({Hostname}, {Vcpus} vCPUs, {MemoryBytes} bytes of memory)")]
    private static partial void LogRegistered(ILogger logger, string hostId, string hostname, int vcpus, long memoryBytes);
}
