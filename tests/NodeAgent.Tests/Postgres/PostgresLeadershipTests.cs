using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Scheduler.Replicas;
using NodeAgent.Scheduler.Store.Postgres;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// The background duties' term on a real PostgreSQL, where replicas are separate processes with their own
/// connections: three replicas (three data sources), one holder at a time, judged by the server's clock.
/// </summary>
public sealed class PostgresLeadershipTests : IDisposable
{
    private readonly PostgresTestDatabase _server = new();

    public void Dispose() => _server.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task ThreeReplicas_RacingForTheTerm_ExactlyOneHoldsIt()
    {
        var databases = Enumerable.Range(0, 3).Select(_ => _server.Open()).ToList();
        try
        {
            var replicas = databases.Select(d => new Leadership(new PostgresLeadershipStore(d), TimeProvider.System, NullLogger<Leadership>.Instance)).ToList();
            for (var round = 0; round < 20; round++)
            {
                var held = await Task.WhenAll(replicas.Select(r => Task.Run(() => r.HoldAsync(CancellationToken.None))));
                Assert.Equal(1, held.Count(h => h));
            }

            foreach (var replica in replicas)
            {
                replica.Dispose();
            }
        }
        finally
        {
            foreach (var database in databases)
            {
                database.Dispose();
            }
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Term_JudgedByTheServerClock_NotTheCallers()
    {
        using var database = _server.Open();
        var store = new PostgresLeadershipStore(database);
        var longAgo = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

        // A caller whose clock is 26 years behind still holds a term of 60 s by the server's clock...
        Assert.Equal("a", await store.HoldAsync("d", "a", longAgo, longAgo.AddSeconds(60)));
        // ...so a replica whose clock runs far ahead cannot take it over.
        var farAhead = DateTimeOffset.UtcNow.AddDays(365);
        Assert.Equal("a", await store.HoldAsync("d", "b", farAhead, farAhead.AddSeconds(60)));

        await store.ReleaseAsync("d", "b"); // not b's to give up
        Assert.Equal("a", await store.HoldAsync("d", "b", farAhead, farAhead.AddSeconds(60)));
        await store.ReleaseAsync("d", "a");
        Assert.Equal("b", await store.HoldAsync("d", "b", farAhead, farAhead.AddSeconds(60)));
    }

    [Fact(Timeout = 30_000)]
    public async Task TermThatRanOut_IsTakenByTheNextReplica()
    {
        using var database = _server.Open();
        var store = new PostgresLeadershipStore(database);
        var now = DateTimeOffset.UtcNow;

        Assert.Equal("a", await store.HoldAsync("d", "a", now, now.AddMilliseconds(200)));
        Assert.Equal("a", await store.HoldAsync("d", "b", now, now.AddSeconds(6)));
        await Task.Delay(400);
        Assert.Equal("b", await store.HoldAsync("d", "b", now, now.AddSeconds(6)));
    }
}
