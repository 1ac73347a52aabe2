using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// Two replicas in one process (two <see cref="PostgresDatabase"/>s on one real database, their host caches never
/// refreshed on their own): a placement decided on a cache that another replica's claim made stale is rolled back and
/// run again on the host as stored, and so never pushes the host past its capacity.
/// </summary>
public sealed class ReplicaClaimTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly HostId Host = HostId.Parse("h1");
    private readonly PostgresTestDatabase _server = new();
    private int _committed;

    public void Dispose() => _server.Dispose();

    private PostgresDatabase Replica() => new(_server.ConnectionString, Timeout.InfiniteTimeSpan);

    private static Lease Running(string id, int vcpus) => new(
        LeaseId.Parse(id), "alice", "debian-12", new Resources(vcpus, 1L << 30, 1L << 30), LeaseState.Running, "running", Host,
        Now, Now.AddHours(1), Now, null, PowerState.Running);

    /// <summary>Registers h1, 8 vCPUs, through <paramref name="replica"/>.</summary>
    private static Task RegisterAsync(PostgresDatabase replica) => new HostStore(replica).UpsertAsync(
        new HostRegistration(Host, "h1", "test", "x86_64", "qemu", new Resources(8, 64L << 30, 1L << 40), new Dictionary<string, string>(), []), Now);

    /// <summary>What a placement does: choose among the hosts the session shows, then write the lease there and count it once committed.</summary>
    private bool PlaceIfItFits(ILeaseSession session, Lease lease, ref int attempts)
    {
        attempts++;
        var host = session.Hosts().Single(h => h.Id == Host);
        if (host.Allocated.Vcpus + lease.Resources.Vcpus > host.Registration.Capacity.Vcpus)
        {
            return false;
        }

        session.Insert(lease);
        session.AfterCommit(() => _committed++);
        return true;
    }

    [Fact(Timeout = 60_000)]
    public async Task Place_OnACacheAnotherReplicaMadeStale_RunsAgainOnTheStoredHost_AndRefusesWhatNoLongerFits()
    {
        using var a = Replica();
        using var b = Replica();
        await RegisterAsync(a);
        b.Hosts.Refresh();
        Assert.Equal(0, a.Hosts.Find(Host)!.Allocated.Vcpus);

        await new LeaseStore(b).WriteAsync(s => { s.Insert(Running("w-fromb", 6)); return 0; });
        Assert.Equal(0, a.Hosts.Find(Host)!.Allocated.Vcpus); // a has not heard of it

        var attempts = 0;
        var placed = await new LeaseStore(a).WriteAsync(s => PlaceIfItFits(s, Running("w-froma", 4), ref attempts));

        Assert.False(placed);
        Assert.Equal(2, attempts);
        Assert.Equal(0, _committed); // the first attempt's insert was rolled back, and so was what it counted
        Assert.Equal(6, a.Hosts.Find(Host)!.Allocated.Vcpus);
        Assert.Null(new LeaseStore(b).Read(s => s.FindLease(LeaseId.Parse("w-froma"))));
    }

    [Fact(Timeout = 60_000)]
    public async Task Place_OnACacheThatIsStaleButStillFits_PlacesWithoutRunningAgain()
    {
        using var a = Replica();
        using var b = Replica();
        await RegisterAsync(a);
        await new LeaseStore(b).WriteAsync(s => { s.Insert(Running("w-fromb", 2)); return 0; });

        var attempts = 0;
        var placed = await new LeaseStore(a).WriteAsync(s => PlaceIfItFits(s, Running("w-froma", 4), ref attempts));

        Assert.True(placed);
        Assert.Equal(1, attempts);
        Assert.Equal(6, a.Hosts.Find(Host)!.Allocated.Vcpus);
    }

    [Fact(Timeout = 60_000)]
    public async Task Place_OnAStaleCache_HostWithAReservationWaiting_RunsAgainOnTheStoredHost()
    {
        using var a = Replica();
        using var b = Replica();
        await RegisterAsync(a);
        var reservation = Running("w-reserved", 2) with { State = LeaseState.Pending, Kind = LeaseKind.Reservation, StartAt = Now.AddHours(1) };
        await new LeaseStore(b).WriteAsync(s => { s.Insert(reservation); s.Insert(Running("w-fromb", 2)); return 0; });

        var attempts = 0;
        var placed = await new LeaseStore(a).WriteAsync(s => PlaceIfItFits(s, Running("w-froma", 4), ref attempts));

        Assert.True(placed);
        Assert.Equal(2, attempts);
        Assert.Equal(1, _committed); // two attempts inserted it; the one that committed counts
        Assert.Equal(6, a.Hosts.Find(Host)!.Allocated.Vcpus);
    }
}
