using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Contract;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Which heartbeats reach the database: every host's liveness to within half the TTL, and at once any change
/// of capacity, foreign use or degradation; the rest stay in memory, where the registry shows them. Real SQLite file;
/// the row is read by a second database opened on it, as another scheduler would.
/// </summary>
public sealed class HeartbeatRecordingTests : IDisposable
{
    private static readonly HostId Host = HostId.Parse("h1");
    private static readonly Resources Capacity = new(8, 16L << 30, 100L << 30);
    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private readonly SqliteDatabase _database;
    private readonly HostRegistry _registry;

    public HeartbeatRecordingTests()
    {
        _database = new SqliteDatabase(DatabasePath);
        _registry = new HostRegistry(new HostStore(_database), new SchedulerOptions { HeartbeatTtl = TimeSpan.FromSeconds(30) },
            _clock, NullLogger<HostRegistry>.Instance);
    }

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    /// <summary>The host's row as stored, read on a connection of its own (not through the cache).</summary>
    private HostRecord Stored() => StoredHosts.Read(DatabasePath).Single(h => h.Id == Host);

    private Task<long> BeatAsync(double cpu, Resources? capacity = null, string degraded = "") =>
        _registry.HeartbeatAsync(Host, capacity ?? Capacity, new HostLoad(cpu, 8L << 30, 0.5, 0, Resources.None), degraded, CancellationToken.None);

    [Fact]
    public async Task Heartbeats_WithinHalfTheTtl_StayInMemory_ThenTheNextOneIsRecorded()
    {
        await _registry.RegisterAsync(new HostRegistration(Host, "h1", "test", "x86_64", "kvm", Capacity, new Dictionary<string, string>(), []), CancellationToken.None);
        var registeredAt = _clock.GetUtcNow();

        _clock.Advance(TimeSpan.FromSeconds(5));
        await BeatAsync(cpu: 0.4);
        _clock.Advance(TimeSpan.FromSeconds(4));
        await BeatAsync(cpu: 0.6);

        Assert.Equal(registeredAt, Stored().LastHeartbeatAt);
        Assert.Equal(0, Stored().Load.CpuUtilization);
        Assert.Equal(_clock.GetUtcNow(), _registry.Get(Host).LastHeartbeatAt);
        Assert.Equal(0.6, _registry.Get(Host).Load.CpuUtilization);

        _clock.Advance(TimeSpan.FromSeconds(6)); // 15 s after the last one recorded: half the 30 s TTL
        await BeatAsync(cpu: 0.7);
        Assert.Equal(_clock.GetUtcNow(), Stored().LastHeartbeatAt);
        Assert.Equal(0.7, Stored().Load.CpuUtilization);
    }

    [Fact]
    public async Task Heartbeat_ThatChangesCapacityOrDegradation_IsRecordedAtOnce()
    {
        await _registry.RegisterAsync(new HostRegistration(Host, "h1", "test", "x86_64", "kvm", Capacity, new Dictionary<string, string>(), []), CancellationToken.None);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await BeatAsync(cpu: 0.1, capacity: Capacity with { Vcpus = 4 });
        Assert.Equal(4, Stored().Registration.Capacity.Vcpus);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await BeatAsync(cpu: 0.1, capacity: Capacity with { Vcpus = 4 }, degraded: "disk nearly full");
        Assert.Equal("disk nearly full", Stored().DegradedReason);
        Assert.Equal(HostHealth.Degraded, _registry.HealthOf(_registry.Get(Host)));
    }

    [Fact]
    public async Task LeaseWrite_AfterAHeartbeatKeptInMemory_DoesNotTurnTheCachedHeartbeatBack()
    {
        await _registry.RegisterAsync(new HostRegistration(Host, "h1", "test", "x86_64", "kvm", Capacity, new Dictionary<string, string>(), []), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(3));
        await BeatAsync(cpu: 0.9);

        // A lease write changes the host's row in the cache, whose heartbeat is newer than the one the database holds.
        var bumped = await new LeaseStore(_database).WriteAsync(s => s.BumpDesiredVersion(Host));

        var host = _registry.Get(Host);
        Assert.Equal(bumped, host.DesiredVersion);
        Assert.Equal(_clock.GetUtcNow(), host.LastHeartbeatAt);
        Assert.Equal(0.9, host.Load.CpuUtilization);
    }

    [Fact]
    public async Task Heartbeat_FromAnUnregisteredHost_IsRefused()
    {
        var refused = await Assert.ThrowsAsync<HostNotFoundException>(() => BeatAsync(cpu: 0.1));
        Assert.Contains("nodeagent", refused.Message, StringComparison.Ordinal);
    }
}
