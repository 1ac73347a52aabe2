using Microsoft.Data.Sqlite;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The image catalogue in a real SQLite file: versions, concurrent adds, retiring, ordering, and the step-7 migration.</summary>
public sealed class ImageStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly string Digest = new('a', 64);
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    private static NewImage Draft(string name, ImageFormat format = ImageFormat.Qcow2, ImageKey? kernel = null) =>
        new(name, format, 1 << 20, Digest, $"https://images.example/{name}", "alice", Kernel: kernel, KernelCmdline: kernel is null ? string.Empty : "console=ttyS0");

    [Fact]
    public async Task Insert_NewNameThenAgain_VersionsOneAndTwoWithEveryFieldKept()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new ImageStore(database);

        var first = await store.WriteAsync(s => s.Insert(Draft("vmlinuz", ImageFormat.Kernel), Now));
        var second = await store.WriteAsync(s => s.Insert(Draft("disk", kernel: new ImageKey("vmlinuz", 1)) with { SavedFromLease = "w-abc", Description = "saved" }, Now.AddSeconds(1)));
        var third = await store.WriteAsync(s => s.Insert(Draft("disk"), Now.AddSeconds(2)));
        var read = store.Read(s => s.Find("disk", 1))!;

        Assert.Equal((1u, 1u, 2u), (first.Version, second.Version, third.Version));
        Assert.Equal(second, read);
        Assert.Equal(new ImageKey("vmlinuz", 1), read.Kernel);
        Assert.Null(read.Initrd);
        Assert.Equal(("console=ttyS0", "saved", "w-abc"), (read.KernelCmdline, read.Description, read.SavedFromLease));
        Assert.Equal((ImageState.Active, Now.AddSeconds(1), (DateTimeOffset?)null), (read.State, read.CreatedAt, read.RetiredAt));
    }

    [Fact(Timeout = 30_000)]
    public async Task Insert_ConcurrentAdds_GetDistinctVersions()
    {
        // Adds that arrive together share a transaction (group commit): the single-statement version assignment
        // keeps their versions apart inside it too.
        using var database = new SqliteDatabase(DatabasePath);
        var store = new ImageStore(database);

        var added = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ =>
            Task.Run(() => store.WriteAsync(s => s.Insert(Draft("debian-12"), Now)))));

        Assert.Equal(Enumerable.Range(1, 40).Select(v => (uint)v), added.Select(i => i.Version).Order());
        Assert.Equal(40, store.Read(s => s.List(includeRetired: true, "debian-12")).Count);
    }

    [Fact]
    public async Task Insert_SameVersionTwiceByHand_RefusedByThePrimaryKey()
    {
        using var database = new SqliteDatabase(DatabasePath);
        const string insert = """
            INSERT INTO images (name, version, format, sha256, url, owner, state, created_at)
            VALUES ('x', 1, 'qcow2', 'd', 'https://e/x', 'alice', 'active', 0)
            """;

        var error = await Assert.ThrowsAsync<StoreException>(() => database.WriteAsync((c, t) =>
        {
            SqliteDatabase.Execute(c, insert, t);
            SqliteDatabase.Execute(c, insert, t);
            return 0;
        }));

        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_OrderedByNameThenNewestVersion_RetiredOnlyWhenAskedAndFilteredByName()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new ImageStore(database);
        foreach (var name in new[] { "zeta", "alpha", "zeta", "alpha", "alpha" })
        {
            await store.WriteAsync(s => s.Insert(Draft(name), Now));
        }

        await store.WriteAsync(s => s.Retire("alpha", 3, Now));

        var active = store.Read(s => s.List(includeRetired: false, null)).Select(i => i.Key.ToString());
        var all = store.Read(s => s.List(includeRetired: true, null)).Select(i => i.Key.ToString());
        var zeta = store.Read(s => s.List(includeRetired: true, "zeta")).Select(i => i.Key.ToString());

        Assert.Equal(["alpha:2", "alpha:1", "zeta:2", "zeta:1"], active);
        Assert.Equal(["alpha:3", "alpha:2", "alpha:1", "zeta:2", "zeta:1"], all);
        Assert.Equal(["zeta:2", "zeta:1"], zeta);
        Assert.Equal("alpha:2", store.Read(s => s.NewestActive("alpha"))!.Key.ToString());
        Assert.Equal("alpha:3", store.Read(s => s.Newest("alpha"))!.Key.ToString());
    }

    [Fact]
    public async Task Retire_OneThenAll_SetsRetiredAtOnceAndKeepsItOnRepeat()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var store = new ImageStore(database);
        for (var i = 0; i < 3; i++)
        {
            await store.WriteAsync(s => s.Insert(Draft("debian-12"), Now));
        }

        var first = await store.WriteAsync(s => s.Retire("debian-12", 2, Now.AddMinutes(1)));
        var again = await store.WriteAsync(s => s.Retire("debian-12", 2, Now.AddMinutes(2)));
        var rest = await store.WriteAsync(s => s.Retire("debian-12", 0, Now.AddMinutes(3)));
        var versions = store.Read(s => s.List(includeRetired: true, "debian-12"));

        Assert.Equal((1, 0, 2), (first, again, rest));
        Assert.All(versions, v => Assert.Equal(ImageState.Retired, v.State));
        Assert.Equal([Now.AddMinutes(3), Now.AddMinutes(1), Now.AddMinutes(3)], versions.Select(v => v.RetiredAt!.Value));
        Assert.Null(store.Read(s => s.NewestActive("debian-12")));
    }

    [Fact]
    public async Task Open_StepSixDatabase_MigratesKeepingItsLeasesAndAddsAnEmptyCatalogue()
    {
        using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            connection.Open();
            Migrations.Apply(connection, 6);
            SqliteDatabase.Execute(connection, """
                INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                                   capacity_disk_bytes, labels, features, registered_at)
                VALUES ('h1', 'h1', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000);
                INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at)
                VALUES ('w-oldrunning', 'alice', 'debian-12', 2, 1073741824, 0, 'running', 'running on h1', 'h1', 1800000000000, 1800007200000, 1800000001000);
                """);
            Assert.Equal(6, Migrations.CurrentVersion(connection));
        }

        using var database = new SqliteDatabase(DatabasePath);
        var images = new ImageStore(database);
        var emptyBefore = images.Read(s => s.List(includeRetired: true, null));
        var added = await images.WriteAsync(s => s.Insert(Draft("debian-12"), Now));
        var lease = new LeaseStore(database).Read(s => s.FindLease(LeaseId.Parse("w-oldrunning")));

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Empty(emptyBefore);
        Assert.Equal(1u, added.Version);
        Assert.NotNull(lease);
        Assert.Equal("debian-12", lease.Image);
    }
}
