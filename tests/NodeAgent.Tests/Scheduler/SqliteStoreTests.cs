using Microsoft.Data.Sqlite;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

public sealed class SqliteStoreTests
{
    private static HostRegistration Registration(string id) => new(
        HostId.Parse(id), id, "test", "x86_64", "qemu", new Resources(2, 1 << 30, 10L << 30),
        new Dictionary<string, string> { ["zone"] = "a" }, ["ssd"]);

    [Fact]
    public async Task Reopen_HostsSurviveAndSchemaIsNotReapplied()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "s.db");
        using (var db = new SqliteDatabase(path))
        {
            await new HostStore(db).UpsertAsync(Registration("h1"), DateTimeOffset.UnixEpoch);
        }

        using var reopened = new SqliteDatabase(path);
        var host = new HostStore(reopened).Find(HostId.Parse("h1"));

        Assert.NotNull(host);
        Assert.Equal("a", host.Registration.Labels["zone"]);
        Assert.Equal(Migrations.Latest, reopened.Read(Migrations.CurrentVersion));
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public void Open_DatabaseFromANewerScheduler_RefusesWithAClearMessage()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "s.db");
        using (var db = new SqliteDatabase(path))
        {
            db.Read(c =>
            {
                SqliteDatabase.Execute(c, $"INSERT INTO schema_migrations VALUES ({Migrations.Latest + 1}, 'later')");
                return 0;
            });
        }

        var error = Assert.Throws<StoreException>(() => new SqliteDatabase(path));

        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public void Open_MissingDirectory_SaysWhichAndWhatToDo()
    {
        var error = Assert.Throws<StoreException>(() => new SqliteDatabase("/nonexistent-dir-for-test/s.db"));

        Assert.Contains("/nonexistent-dir-for-test", error.Message, StringComparison.Ordinal);
        Assert.Contains("create it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordHeartbeat_UnknownHost_ReturnsFalse()
    {
        using var dir = new TempDirectory();
        using var db = new SqliteDatabase(Path.Combine(dir.Path, "s.db"));

        var recorded = await new HostStore(db).RecordHeartbeatAsync(new Heartbeat(HostId.Parse("nope"), Resources.None, HostLoad.Unknown, DateTimeOffset.UnixEpoch));

        Assert.False(recorded);
        SqliteConnection.ClearAllPools();
    }
}
