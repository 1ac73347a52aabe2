using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The in-memory hosts: what a refresh while others write keeps, and what a reload after a failed commit drops.</summary>
public sealed class HostCacheTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    private static HostRecord Host(string id, int held) => new(
        new HostRegistration(HostId.Parse(id), id, "test", "x86_64", "qemu", new Resources(8, 8L << 30, 1L << 40), new Dictionary<string, string>(), []),
        HostLoad.Unknown, new Resources(held, 0, 0), Now, Now, 0);

    [Fact]
    public void Refresh_ARowPutWhileItReads_KeepsThePutRow_AndTakesTheOthersAsRead()
    {
        HostCache cache = null!;
        var database = new List<HostRecord> { Host("h1", 0), Host("h2", 0) };
        var putDuringRead = false;
        cache = new HostCache(() =>
        {
            var read = database.ToList();
            if (putDuringRead)
            {
                // A write commits after the read's snapshot and puts its row here before the read is merged.
                cache.Put(Host("h1", 6));
            }

            return read;
        });
        cache.Reload();
        database = [Host("h1", 2), Host("h2", 3)];
        putDuringRead = true;

        cache.Refresh();

        Assert.Equal(6, cache.Find(HostId.Parse("h1"))!.Allocated.Vcpus);
        Assert.Equal(3, cache.Find(HostId.Parse("h2"))!.Allocated.Vcpus);
    }

    [Fact]
    public void Refresh_NeverForgetsAHost_ButReloadDropsOneTheDatabaseLacks()
    {
        var database = new List<HostRecord> { Host("h1", 0) };
        var cache = new HostCache(() => database.ToList());
        cache.Reload();
        cache.Put(Host("h2", 1)); // registered meanwhile, its row not (yet) in what the next read returns

        cache.Refresh();
        Assert.Equal(["h1", "h2"], cache.All().Select(h => h.Id.Value));

        cache.Reload();
        Assert.Equal(["h1"], cache.All().Select(h => h.Id.Value));
    }
}
