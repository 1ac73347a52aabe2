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

    [Fact]
    public void Candidate_SameRowLoadAndImages_IsMadeOnce()
    {
        var live = new HostLive();
        var host = Host("h1");
        var maker = new Maker();

        var first = live.Candidate(host, HostHealth.Up, maker.Make);
        var second = live.Candidate(host, HostHealth.Up, maker.Make);

        Assert.Same(first, second);
        Assert.Equal(1, maker.Made);
    }

    [Fact]
    public void Candidate_AfterAHeartbeatsLoad_IsMadeAgainWithIt()
    {
        var live = new HostLive();
        var host = Host("h1");
        var maker = new Maker();
        var before = live.Candidate(host, HostHealth.Up, maker.Make);

        live.Observe(LoadAverage.DefaultHalfLife, Now, new HostLoad(0.9, 1L << 30, 0, 0, Resources.None), Capacity);
        var after = live.Candidate(host, HostHealth.Up, maker.Make);

        Assert.Equal(0, before.CpuLoad);
        Assert.Equal(0.9, after.CpuLoad, 6);
        Assert.Equal(2, maker.Made);
    }

    [Fact]
    public void Candidate_AfterNewCachedImages_IsMadeAgainWithThem()
    {
        var live = new HostLive();
        var host = Host("h1");
        var maker = new Maker();
        live.Candidate(host, HostHealth.Up, maker.Make);

        live.CachedImages = new HashSet<string>(StringComparer.Ordinal) { "abc" };
        var after = live.Candidate(host, HostHealth.Up, maker.Make);

        Assert.Contains("abc", after.CachedImages);
    }

    [Fact]
    public void Candidate_ForANewRow_IsMadeFromThatRow()
    {
        var live = new HostLive();
        var maker = new Maker();
        live.Candidate(Host("h1", held: 0), HostHealth.Up, maker.Make);

        var after = live.Candidate(Host("h1", held: 5), HostHealth.Up, maker.Make);

        Assert.Equal(3, after.Free.Vcpus);
        Assert.Equal(2, maker.Made);
    }

    [Fact]
    public void Candidate_WithAnotherHealth_CarriesThatHealth_AndKeepsTheMadeOne()
    {
        var live = new HostLive();
        var host = Host("h1");
        var maker = new Maker();
        live.Candidate(host, HostHealth.Up, maker.Make);

        var down = live.Candidate(host, HostHealth.Down, maker.Make);
        var up = live.Candidate(host, HostHealth.Up, maker.Make);

        Assert.Equal(HostHealth.Down, down.Health);
        Assert.Equal(HostHealth.Up, up.Health);
        Assert.Equal(1, maker.Made);
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
