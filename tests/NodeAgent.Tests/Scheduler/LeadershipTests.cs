using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Scheduler.Replicas;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// The background duties held by one replica at a time, in a real SQLite file: two replicas (two holders on the one
/// store; several scheduler processes share a PostgreSQL store, an SQLite file takes one) — a term, its renewal, its
/// running out after the holder stops, and its release at a graceful stop.
/// </summary>
public sealed class LeadershipTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private readonly SqliteDatabase _first;

    public LeadershipTests() => _first = new SqliteDatabase(Path.Combine(_directory.Path, "s.db"));

    public void Dispose()
    {
        _first.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private Leadership Replica(SqliteDatabase database) => new(new SqliteLeadershipStore(database), _clock, NullLogger<Leadership>.Instance);

    [Fact]
    public async Task TwoReplicas_OnlyOneHoldsTheDuties_ThenTheOtherOnceTheFirstStopsRenewing()
    {
        using var a = Replica(_first);
        using var b = Replica(_first);

        Assert.True(await a.HoldAsync(CancellationToken.None));
        Assert.False(await b.HoldAsync(CancellationToken.None));

        // a renews while it runs: at every point of its term b is refused.
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(Leadership.Term / 3);
            Assert.True(await a.HoldAsync(CancellationToken.None));
            Assert.False(await b.HoldAsync(CancellationToken.None));
        }

        // a stops (kill -9: no release). Within its term b is still refused; after it, b takes over.
        _clock.Advance(Leadership.Term / 2);
        Assert.False(await b.HoldAsync(CancellationToken.None));
        _clock.Advance(Leadership.Term);
        Assert.True(await b.HoldAsync(CancellationToken.None));
        Assert.False(await a.HoldAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GracefulStop_ReleasesTheTerm_SoTheOtherReplicaTakesItAtOnce()
    {
        using var a = Replica(_first);
        using var b = Replica(_first);
        Assert.True(await a.HoldAsync(CancellationToken.None));
        Assert.False(await b.HoldAsync(CancellationToken.None));

        await a.StopAsync(CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1)); // b asks again at most once a second

        Assert.True(await b.HoldAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Store_HoldRefusedWhileAnotherTermRuns_NamesTheHolder()
    {
        var store = new SqliteLeadershipStore(_first);
        var now = _clock.GetUtcNow();

        Assert.Equal("a", await store.HoldAsync("d", "a", now, now.AddSeconds(6)));
        Assert.Equal("a", await store.HoldAsync("d", "b", now.AddSeconds(5), now.AddSeconds(11)));
        Assert.Equal("b", await store.HoldAsync("d", "b", now.AddSeconds(6), now.AddSeconds(12)));
        Assert.Equal("b", await store.HoldAsync("other-duty", "b", now, now.AddSeconds(6)));
        await store.ReleaseAsync("d", "a"); // not a's to give up any more
        Assert.Equal("b", await store.HoldAsync("d", "a", now.AddSeconds(7), now.AddSeconds(13)));
    }
}
