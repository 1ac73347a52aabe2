using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// What heartbeats bring, kept beside each host's row: a placement reads it by position without a lookup, and the
/// host as placement last saw it is kept until the row, the load or the images change, never longer.
/// </summary>
public sealed class HostLiveTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly Resources Capacity = new(8, 16L << 30, 1L << 40);

    private static HostRecord Host(string id, int held = 0) => new(
        new HostRegistration(HostId.Parse(id), id, "test", "x86_64", "qemu", Capacity, new Dictionary<string, string>(), []),
        HostLoad.Unknown, new Resources(held, 0, 0), Now, Now, 0);

    /// <summary>Counts the candidates made, as placement makes them: the free capacity and the live load.</summary>
    private sealed class Maker
    {
        public int Made { get; private set; }

        public PlacementCandidate Make(HostRecord host, HostLive live, HostHealth health)
        {
            Made++;
            return new PlacementCandidate(host, health, host.Free)
            {
                CachedImages = live.CachedImages,
                CpuLoad = live.Load?.Cpu ?? 0,
            };
        }
    }

    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(15);

    /// <summary>A cache holding <paramref name="rows"/>, as the store loads it.</summary>
    private static HostCache CacheOf(params HostRecord[] rows)
    {
        var cache = new HostCache(() => rows);
        cache.Reload();
        return cache;
    }

    [Fact]
    public void Candidate_SameRowLoadAndImages_IsMadeOnce()
    {
        var cache = CacheOf(Host("h1"));
        var maker = new Maker();

        var first = cache.All().CandidateAt(0, Now, Ttl, maker.Make);
        var second = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Same(first, second);
        Assert.Equal(1, maker.Made);
    }

    [Fact]
    public void Prefetch_AnyIndex_ChangesNothingAndNeverThrows()
    {
        var cache = CacheOf(Host("h1"), Host("h2"));
        var maker = new Maker();
        var view = cache.All();
        var kept = view.CandidateAt(0, Now, Ttl, maker.Make);

        // 0 has a kept candidate, 1 none yet; the others are outside the view.
        foreach (var index in new[] { 0, 1, 2, -1, int.MaxValue, int.MinValue })
        {
            view.PrefetchCell(index);
            view.PrefetchCandidate(index);
        }

        Assert.Same(kept, view.CandidateAt(0, Now, Ttl, maker.Make));
        Assert.Equal(1, maker.Made);
    }

    [Fact]
    public void Candidate_AfterAHeartbeatsLoad_IsMadeAgainWithIt()
    {
        var cache = CacheOf(Host("h1"));
        var maker = new Maker();
        var before = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        cache.Live(HostId.Parse("h1"))!.Observe(LoadAverage.DefaultHalfLife, Now, new HostLoad(0.9, 1L << 30, 0, 0, Resources.None), Capacity);
        var after = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Equal(0, before.CpuLoad);
        Assert.Equal(0.9, after.CpuLoad, 6);
        Assert.Equal(2, maker.Made);
    }

    [Fact]
    public void Candidate_AfterNewCachedImages_IsMadeAgainWithThem()
    {
        var cache = CacheOf(Host("h1"));
        var maker = new Maker();
        cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        cache.Live(HostId.Parse("h1"))!.CachedImages = new HashSet<string>(StringComparer.Ordinal) { "abc" };
        var after = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Contains("abc", after.CachedImages);
    }

    [Fact]
    public void Candidate_ForANewRow_IsMadeFromThatRow()
    {
        var cache = CacheOf(Host("h1", held: 0));
        var maker = new Maker();
        cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        cache.Put(Host("h1", held: 5));
        var after = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Equal(3, after.Free.Vcpus);
        Assert.Equal(2, maker.Made);
    }

    [Fact]
    public void Candidate_ReadLater_CarriesTheHealthThen_AndKeepsTheMadeOne()
    {
        var cache = CacheOf(Host("h1"));
        var maker = new Maker();

        var up = cache.All().CandidateAt(0, Now + Ttl, Ttl, maker.Make);
        var down = cache.All().CandidateAt(0, Now + Ttl + TimeSpan.FromMilliseconds(1), Ttl, maker.Make);
        var upAgain = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Equal(HostHealth.Up, up.Health);
        Assert.Equal(HostHealth.Down, down.Health);
        Assert.Same(up, upAgain);
        Assert.Equal(1, maker.Made);
    }

    [Fact]
    public void Candidate_OfADegradedHost_IsDegradedWhileItsHeartbeatsLast()
    {
        var cache = CacheOf(Host("h1") with { DegradedReason = "disk full" });

        var candidate = cache.All().CandidateAt(0, Now, Ttl, new Maker().Make);

        Assert.Equal(HostHealth.Degraded, candidate.Health);
        Assert.Equal(HostHealth.Down, cache.All().CandidateAt(0, Now + (2 * Ttl), Ttl, new Maker().Make).Health);
    }

    [Fact]
    public void Candidate_AfterAChangeOfTheRowInMemory_IsMadeFromTheChangedRow()
    {
        var cache = CacheOf(Host("h1"));
        var maker = new Maker();
        cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        cache.Change(HostId.Parse("h1"), h => h with { DegradedReason = "disk full" });
        var after = cache.All().CandidateAt(0, Now, Ttl, maker.Make);

        Assert.Equal(HostHealth.Degraded, after.Health);
        Assert.Equal(2, maker.Made);
    }

    [Fact]
    public void Candidates_AfterAHostJoins_AreKeptByTheirNewPositions()
    {
        var cache = CacheOf(Host("h1"), Host("h3"));
        var maker = new Maker();
        var h3 = cache.All().CandidateAt(1, Now, Ttl, maker.Make);

        cache.Put(Host("h2", held: 4));
        var view = cache.All();
        var second = view.CandidateAt(1, Now, Ttl, maker.Make);
        var third = view.CandidateAt(2, Now, Ttl, maker.Make);

        Assert.Equal("h2", second.Host.Id.Value);
        Assert.Equal(4, second.Free.Vcpus);
        Assert.Equal("h3", third.Host.Id.Value);
        Assert.Same(third, view.CandidateAt(2, Now, Ttl, maker.Make));
        Assert.Equal(h3.Host, third.Host);
        Assert.Equal(3, maker.Made);
    }

    [Fact]
    public void Cache_KeepsEachHostsLiveBesideItsRow_ByPositionAndById_AcrossPuts()
    {
        var cache = new HostCache(() => [Host("h2"), Host("h1")]);
        cache.Reload();
        var h1 = cache.Live(HostId.Parse("h1"))!;
        h1.CachedImages = new HashSet<string>(StringComparer.Ordinal) { "abc" };

        cache.Put(Host("h1", held: 2));
        var all = cache.All();

        Assert.Equal("h1", all[0].Id.Value);
        Assert.Same(h1, all.LiveAt(0));
        Assert.Same(h1, cache.Live(HostId.Parse("h1")));
        Assert.NotSame(h1, all.LiveAt(1));
        Assert.Null(cache.Live(HostId.Parse("h3")));
    }
}
