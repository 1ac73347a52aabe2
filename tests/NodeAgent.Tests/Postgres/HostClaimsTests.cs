using System.Data;
using Npgsql;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// <see cref="HostClaims.TryClaim"/> on a real PostgreSQL: what fits, that the lease written after a claim is counted
/// once, that a claim waits for another transaction's claim on the host and then sees its lease, and that claims
/// racing from many connections never push a host past its capacity.
/// </summary>
public sealed class HostClaimsTests : IDisposable
{
    private const long GiB = 1L << 30;
    private readonly PostgresTestDatabase _server = new();
    private readonly PostgresDatabase _database;

    public HostClaimsTests() => _database = _server.Open();

    public void Dispose()
    {
        _database.Dispose();
        _server.Dispose();
    }

    private static readonly HostId H1 = HostId.Parse("h1");

    /// <summary>h1: 8 vCPUs, 16 GiB, 100 GiB of disk; foreign domains use 2 vCPUs and 4 GiB; a running lease holds 3, 4 GiB, 50 GiB.</summary>
    private NpgsqlConnection HostWithALease()
    {
        var connection = _database.OpenConnection();
        LeaseRows.Host(connection, "h1", new Resources(8, 16 * GiB, 100 * GiB), new Resources(2, 4 * GiB, 0));
        LeaseRows.Lease(connection, null, "w-old", "h1", new Resources(3, 4 * GiB, 50 * GiB), "running");
        return connection;
    }

    private static bool ClaimAndRollBack(NpgsqlConnection connection, HostId host, Resources claim)
    {
        using var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        return HostClaims.TryClaim(connection, transaction, host, claim);
    }

    [Fact]
    public void TryClaim_UpToCapacityLessWhatIsHeldAndForeign_Succeeds_AndNothingMore()
    {
        using var connection = HostWithALease();

        Assert.True(ClaimAndRollBack(connection, H1, new Resources(3, 8 * GiB, 50 * GiB)));
        Assert.False(ClaimAndRollBack(connection, H1, new Resources(4, 1, 1)));
        Assert.False(ClaimAndRollBack(connection, H1, new Resources(1, (8 * GiB) + 1, 1)));
        Assert.False(ClaimAndRollBack(connection, H1, new Resources(1, 1, (50 * GiB) + 1)));
        Assert.False(ClaimAndRollBack(connection, HostId.Parse("h9"), new Resources(1, 1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClaimAndRollBack(connection, H1, new Resources(-1, 0, 0)));
        Assert.Equal(new Resources(3, 4 * GiB, 50 * GiB), LeaseRows.Held(connection)["h1"].Held);
    }

    [Fact]
    public void LeaseWrittenAfterItsClaim_IsCountedOnce_AndTheNextClaimSeesIt()
    {
        using var connection = HostWithALease();
        var claim = new Resources(2, 6 * GiB, 30 * GiB);

        using (var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted))
        {
            Assert.True(HostClaims.TryClaim(connection, transaction, H1, claim));
            LeaseRows.Lease(connection, transaction, "w-new", "h1", claim);
            Assert.False(HostClaims.TryClaim(connection, transaction, H1, new Resources(2, 1, 1)));
            Assert.True(HostClaims.TryClaim(connection, transaction, H1, new Resources(1, 2 * GiB, 20 * GiB)));
            transaction.Commit();
        }

        var (held, sum) = LeaseRows.Held(connection)["h1"];
        Assert.Equal(new Resources(5, 10 * GiB, 80 * GiB), held);
        Assert.Equal(sum, held);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task TryClaim_OnAHostAnotherTransactionClaimed_WaitsForIt_ThenSeesItsLease(bool firstCommits, bool secondFits)
    {
        using var first = HostWithALease();
        using var second = _database.OpenConnection();
        using var watcher = _database.OpenConnection();
        var whole = new Resources(3, 8 * GiB, 50 * GiB);

        using var firstTransaction = first.BeginTransaction(IsolationLevel.ReadCommitted);
        Assert.True(HostClaims.TryClaim(first, firstTransaction, H1, whole));
        LeaseRows.Lease(first, firstTransaction, "w-first", "h1", whole);

        var secondClaim = Task.Run(() =>
        {
            using var transaction = second.BeginTransaction(IsolationLevel.ReadCommitted);
            var fits = HostClaims.TryClaim(second, transaction, H1, new Resources(1, GiB, GiB));
            transaction.Commit();
            return fits;
        });
        while (PgSql.Scalar<long>(watcher, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0)
        {
            Assert.False(secondClaim.IsCompleted, "the second claim went through while the first transaction held the host");
            await Task.Delay(10);
        }

        if (firstCommits)
        {
            firstTransaction.Commit();
        }
        else
        {
            firstTransaction.Rollback();
        }

        Assert.Equal(secondFits, await secondClaim);
    }

    [Fact(Timeout = 120_000)]
    public async Task ClaimsFromEightConnections_NeverPushAHostPastItsCapacity_AndHeldIsTheSumOfTheClaimsThatHold()
    {
        var hosts = new Dictionary<string, (Resources Capacity, Resources Foreign)>
        {
            ["h1"] = (new Resources(8, 16 * GiB, 200 * GiB), Resources.None),
            ["h2"] = (new Resources(6, 12 * GiB, 100 * GiB), new Resources(1, 2 * GiB, 0)),
            ["h3"] = (new Resources(16, 32 * GiB, 40 * GiB), new Resources(0, 0, 0)), // full by disk first
        };
        using (var setup = _database.OpenConnection())
        {
            foreach (var (id, (capacity, foreign)) in hosts)
            {
                LeaseRows.Host(setup, id, capacity, foreign);
            }
        }

        var workers = Enumerable.Range(0, 8).Select(w => Task.Factory.StartNew(() => Worker(w, hosts), TaskCreationOptions.LongRunning)).ToArray();
        var results = await Task.WhenAll(workers);

        using var connection = _database.OpenConnection();
        var held = LeaseRows.Held(connection);
        foreach (var (id, (capacity, foreign)) in hosts)
        {
            var claimed = results.SelectMany(r => r.Holding).Where(c => c.Host == id).Aggregate(Resources.None, (sum, c) => sum.Add(c.Claim));
            Assert.Equal(claimed, held[id].Held);
            Assert.Equal(held[id].Sum, held[id].Held);
            Assert.True(held[id].Held.Add(foreign).Fits(capacity), $"{id} holds {held[id].Held} with {foreign} foreign, over its capacity {capacity}");
        }

        var overfilled = results.SelectMany(r => r.Overfilled).ToList();
        Assert.True(overfilled.Count == 0, "claims let hosts hold more than they can: " + string.Join("; ", overfilled));
        Assert.True(results.Sum(r => r.Refused) > 50, "the hosts should have been full often, or the claims never raced for the last room");
        Assert.True(results.Sum(r => r.Claimed) > 100, "most rounds should have found room somewhere");
    }

    private sealed record WorkerResult(List<(string Host, Resources Claim)> Holding, int Claimed, int Refused, List<string> Overfilled);

    /// <summary>
    /// 80 rounds on one connection, each one transaction: end one of this worker's leases (a third of the time), or
    /// claim a random amount on a random host and, when that succeeds, write the lease and check, still inside the
    /// transaction and with the host locked, that the host is within its capacity.
    /// </summary>
    private WorkerResult Worker(int worker, Dictionary<string, (Resources Capacity, Resources Foreign)> hosts)
    {
        var random = new Random(1000 + worker);
        var ids = hosts.Keys.Order(StringComparer.Ordinal).ToArray();
        var live = new List<(string Lease, string Host, Resources Claim)>();
        var (claimed, refused, overfilled) = (0, 0, new List<string>());
        using var connection = _database.OpenConnection();
        for (var round = 0; round < 80; round++)
        {
            using var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
            if (live.Count > 0 && random.Next(3) == 0)
            {
                var ending = live[random.Next(live.Count)];
                PgSql.Execute(connection, transaction, "UPDATE leases SET state = 'ended' WHERE lease_id = @id", ("id", ending.Lease));
                transaction.Commit();
                live.Remove(ending);
                continue;
            }

            var host = ids[random.Next(ids.Length)];
            var claim = new Resources(1 + random.Next(3), GiB * (1 + random.Next(4)), GiB * (5 + random.Next(20)));
            if (!HostClaims.TryClaim(connection, transaction, HostId.Parse(host), claim))
            {
                refused++;
                transaction.Rollback();
                continue;
            }

            var lease = $"w-{worker}-{round}";
            LeaseRows.Lease(connection, transaction, lease, host, claim);
            var now = LeaseRows.Held(connection, transaction)[host].Held;
            if (!now.Add(hosts[host].Foreign).Fits(hosts[host].Capacity))
            {
                overfilled.Add($"{lease} made {host} hold {now}");
            }

            transaction.Commit();
            live.Add((lease, host, claim));
            claimed++;
        }

        return new WorkerResult(live.Select(l => (l.Host, l.Claim)).ToList(), claimed, refused, overfilled);
    }
}
