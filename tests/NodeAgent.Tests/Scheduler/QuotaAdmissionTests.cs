using Microsoft.Data.Sqlite;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Quotas;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// QuotaAdmission alone, on a real SQLite store: leases are written as the lease manager writes them, quotas as
/// SetQuota stores them, and each limit is probed exactly at its boundary.
/// </summary>
public sealed class QuotaAdmissionTests : IDisposable
{
    private const string Fix = "release a lease or ask an admin for more";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();
    private readonly SqliteDatabase _database;
    private readonly LeaseStore _leases;
    private readonly QuotaStore _quotas;
    private readonly QuotaAdmission _admission = new();
    private int _next;

    public QuotaAdmissionTests()
    {
        _database = new SqliteDatabase(Path.Combine(_directory.Path, "s.db"));
        _leases = new LeaseStore(_database);
        _quotas = new QuotaStore(_database);
    }

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private Lease NewLease(
        LeaseState state, int vcpus = 1, long memory = 1L << 30, string owner = "alice",
        DateTimeOffset? created = null, TimeSpan? duration = null, DateTimeOffset? updated = null)
    {
        var start = created ?? Now;
        return new Lease(
            LeaseId.Parse($"w-test{_next++:d6}"), owner, "debian-12", new Resources(vcpus, memory, 0), state, "test", null,
            start, start + (duration ?? TimeSpan.FromHours(1)), updated ?? start, null);
    }

    private Task<int> StoreAsync(params Lease[] leases) => _leases.WriteAsync(s =>
    {
        foreach (var lease in leases)
        {
            s.Insert(lease);
        }

        return 0;
    });

    private Task<ProjectQuota> SetAsync(string project, QuotaChange change) => _quotas.ChangeAsync(project, change.Apply, "admin", Now);

    /// <summary>Asks admission about a new lease, in a write transaction as CreateLease does.</summary>
    private Task<string?> RefuseAsync(Lease pending) => _leases.WriteAsync(s => _admission.Refuse(s, pending, Now));

    private Task<string?> RefuseExtensionAsync(Lease lease, DateTimeOffset newExpiry) =>
        _leases.WriteAsync(s => _admission.RefuseExtension(s, lease, newExpiry, Now));

    [Fact]
    public async Task Refuse_VcpusExactlyAtLimitThenOneOver_AdmitsThenRefusesWithExactMessage()
    {
        await SetAsync("alice", new QuotaChange { MaxVcpus = 16 });
        await StoreAsync(NewLease(LeaseState.Running, vcpus: 8), NewLease(LeaseState.Starting, vcpus: 4));

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 4)));
        Assert.Equal(
            $"project alice's quota of 16 vCPUs would be exceeded by 1 (12 in use + 5 asked); {Fix} (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 5)));
    }

    [Fact]
    public async Task Refuse_MemoryExactlyAtLimitThenOneMiBOver_AdmitsThenRefusesWithExactMessage()
    {
        await SetAsync("alice", new QuotaChange { MaxMemoryBytes = 8L << 30 });
        await StoreAsync(NewLease(LeaseState.Running, memory: 6L << 30));

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, memory: 2L << 30)));
        Assert.Equal(
            $"project alice's quota of 8 GiB of memory would be exceeded by 1 MiB (6 GiB in use + 2049 MiB asked); {Fix} (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending, memory: (2L << 30) + (1L << 20))));
    }

    [Fact]
    public async Task Refuse_WorkspacesHeldByStoppedPausedAndStoppingLeases_CountedButEndedAndFailedAreNot()
    {
        await SetAsync("alice", new QuotaChange { MaxWorkspaces = 3 });
        await StoreAsync(NewLease(LeaseState.Stopped), NewLease(LeaseState.Paused), NewLease(LeaseState.Ended), NewLease(LeaseState.Failed));

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending)));
        await StoreAsync(NewLease(LeaseState.Stopping));
        Assert.Equal(
            $"project alice's quota of 3 workspaces would be exceeded by 1 (3 in use + 1 asked); {Fix} (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending)));
    }

    [Fact]
    public async Task Refuse_SeveralLimitsExceeded_NamesEachWithItsAmountAndBothFixes()
    {
        await SetAsync("alice", new QuotaChange { MaxVcpus = 4, MaxMemoryBytes = 4L << 30, MaxWorkspaces = 1, MaxLeaseDuration = TimeSpan.FromDays(7) });
        await StoreAsync(NewLease(LeaseState.Running, vcpus: 2, memory: 2L << 30));

        var refusal = await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 4, memory: 3L << 30, duration: TimeSpan.FromDays(10)));

        Assert.Equal(
            "the lease asks 10d, project alice may lease at most 7d; " +
            "project alice's quota of 4 vCPUs would be exceeded by 2 (2 in use + 4 asked); " +
            "project alice's quota of 4 GiB of memory would be exceeded by 1 GiB (2 GiB in use + 3 GiB asked); " +
            "project alice's quota of 1 workspaces would be exceeded by 1 (1 in use + 1 asked); " +
            $"ask for at most 7d, or {Fix} (ws quota show alice)",
            refusal);
    }

    [Fact]
    public async Task Refuse_NoQuotaAnywhere_AdmitsAnything()
    {
        await StoreAsync(Enumerable.Range(0, 50).Select(_ => NewLease(LeaseState.Running, vcpus: 64, memory: 1L << 40)).ToArray());

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 1024, memory: 1L << 50, duration: TimeSpan.FromDays(366))));
    }

    [Fact]
    public async Task Refuse_DefaultAndProjectQuotas_ProjectSettingsWinLimitByLimitAndZeroExempts()
    {
        await SetAsync(ProjectQuota.DefaultProject, new QuotaChange { MaxVcpus = 4, MaxWorkspaces = 1 });
        await SetAsync("alice", new QuotaChange { MaxVcpus = 8, MaxWorkspaces = 0 });
        await StoreAsync(NewLease(LeaseState.Running, owner: "alice"), NewLease(LeaseState.Running, owner: "bob"));

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 7, owner: "alice")));
        Assert.Equal(
            $"project bob's quota of 4 vCPUs would be exceeded by 1 (1 in use + 4 asked); " +
            $"project bob's quota of 1 workspaces would be exceeded by 1 (1 in use + 1 asked); {Fix} (ws quota show bob)",
            await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 4, owner: "bob")));
        Assert.Equal(
            $"project alice's quota of 8 vCPUs would be exceeded by 1 (1 in use + 8 asked); {Fix} (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 8, owner: "alice")));
    }

    /// <summary>
    /// Budget 100 core-hours per 10 days, window [now − 10d, …). alice's leases are charged 2 + 40 + 24 = 66:
    /// a lease released early that ran 1 h of 2 vCPUs inside the window, a running one of 4 vCPUs for its whole
    /// 10 h (the 8 h ahead included), and one of 1 vCPU that ended after its expiry (charged only until it).
    /// A refused lease, a lease wholly before the window and bob's lease add nothing.
    /// </summary>
    [Fact]
    public async Task Refuse_CoreHoursWithLeasesPartlyInsideTheWindow_ChargesOnlyTheirTimeInsideAndAdmitsExactlyTheRest()
    {
        var windowStart = Now - TimeSpan.FromDays(10);
        await SetAsync("alice", new QuotaChange { CoreHours = 100, Period = TimeSpan.FromDays(10) });
        await StoreAsync(
            NewLease(LeaseState.Ended, vcpus: 2, created: windowStart.AddHours(-3), duration: TimeSpan.FromHours(5), updated: windowStart.AddHours(1)),
            NewLease(LeaseState.Running, vcpus: 4, created: Now.AddHours(-2), duration: TimeSpan.FromHours(10)),
            NewLease(LeaseState.Ended, vcpus: 1, created: Now.AddDays(-5), duration: TimeSpan.FromDays(1), updated: Now.AddDays(-3)),
            NewLease(LeaseState.Failed, vcpus: 8, created: Now.AddDays(-1), duration: TimeSpan.FromDays(2)),
            NewLease(LeaseState.Ended, vcpus: 10, created: Now.AddDays(-12), duration: TimeSpan.FromDays(3), updated: Now.AddDays(-11)),
            NewLease(LeaseState.Running, vcpus: 16, owner: "bob", duration: TimeSpan.FromDays(1)));

        var charged = _leases.Read(s => s.VcpuMillisecondsOf("alice", windowStart, DateTimeOffset.MaxValue));

        Assert.Equal(66 * 3_600_000L, charged);
        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 1, duration: TimeSpan.FromHours(34))));
        Assert.Equal(
            $"project alice's quota of 100 core-hours per 10d would be exceeded by 0.017 (66 already charged + 34.017 asked); {Fix} (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 1, duration: TimeSpan.FromHours(34) + TimeSpan.FromMinutes(1))));
    }

    [Fact]
    public async Task Refuse_OneLongLease_ChargedItsWholeDurationUpFront()
    {
        await SetAsync("alice", new QuotaChange { CoreHours = 1000, Period = TimeSpan.FromDays(30) });

        var refusal = await RefuseAsync(NewLease(LeaseState.Pending, vcpus: 8, duration: TimeSpan.FromDays(7)));

        Assert.Equal($"project alice's quota of 1000 core-hours per 30d would be exceeded by 344 (0 already charged + 1344 asked); {Fix} (ws quota show alice)", refusal);
    }

    [Fact]
    public async Task Refuse_DurationExactlyAtMaximumThenLonger_AdmitsThenRefusesWithExactMessage()
    {
        await SetAsync(ProjectQuota.DefaultProject, new QuotaChange { MaxLeaseDuration = TimeSpan.FromDays(7) });

        Assert.Null(await RefuseAsync(NewLease(LeaseState.Pending, duration: TimeSpan.FromDays(7))));
        Assert.Equal(
            "the lease asks 10d, project alice may lease at most 7d; ask for at most 7d (ws quota show alice)",
            await RefuseAsync(NewLease(LeaseState.Pending, duration: TimeSpan.FromDays(10))));
    }

    [Fact]
    public async Task RefuseExtension_PastMaximumFromCreation_RefusedSayingHowMuchIsLeft()
    {
        await SetAsync("alice", new QuotaChange { MaxLeaseDuration = TimeSpan.FromDays(7) });
        var lease = NewLease(LeaseState.Running, created: Now.AddDays(-1), duration: TimeSpan.FromDays(6));
        await StoreAsync(lease);

        Assert.Null(await RefuseExtensionAsync(lease, lease.ExpiresAt.AddDays(1)));
        Assert.Equal(
            "the lease would then run 7d1h from its creation, project alice may lease at most 7d; extend it by at most 1d (ws quota show alice)",
            await RefuseExtensionAsync(lease, lease.ExpiresAt.AddDays(1).AddHours(1)));
    }

    [Fact]
    public async Task RefuseExtension_CoreHours_ChargesTheAddedTimeOnTopOfTheLeaseItself()
    {
        await SetAsync("alice", new QuotaChange { CoreHours = 100, Period = TimeSpan.FromDays(10) });
        var lease = NewLease(LeaseState.Running, vcpus: 4, created: Now.AddHours(-1), duration: TimeSpan.FromHours(10));
        await StoreAsync(lease);

        Assert.Null(await RefuseExtensionAsync(lease, lease.ExpiresAt.AddHours(15)));
        Assert.Equal(
            $"project alice's quota of 100 core-hours per 10d would be exceeded by 1 (40 already charged + 61 asked); {Fix} (ws quota show alice)",
            await RefuseExtensionAsync(lease, lease.ExpiresAt.AddHours(15.25)));
    }

    [Fact]
    public async Task RefuseExtension_ConcurrentLimitsLoweredBelowUse_DoNotBlockIt()
    {
        var lease = NewLease(LeaseState.Running, vcpus: 8);
        await StoreAsync(lease, NewLease(LeaseState.Running, vcpus: 8));
        await SetAsync("alice", new QuotaChange { MaxVcpus = 4, MaxWorkspaces = 1, MaxMemoryBytes = 1L << 30 });

        Assert.Null(await RefuseExtensionAsync(lease, lease.ExpiresAt.AddDays(1)));
        Assert.NotNull(await RefuseAsync(NewLease(LeaseState.Pending)));
    }
}
