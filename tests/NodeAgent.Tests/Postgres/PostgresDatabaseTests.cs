using System.Net;
using System.Net.Sockets;
using Npgsql;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// <see cref="PostgresDatabase"/> on a real server: what its errors say (the server, never the password, and what to
/// check), that a write is one transaction, that an address cannot be reserved twice by concurrent writers, and that
/// its data source reads each type only as itself.
/// </summary>
public sealed class PostgresDatabaseTests : IDisposable
{
    private const string Secret = "s3cret-Passw0rd";
    private readonly PostgresTestDatabase _server = new();

    public void Dispose() => _server.Dispose();

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public void Open_WhereNothingListens_NamesTheServer_NotThePassword_AndSaysWhatToCheck()
    {
        var port = FreeLoopbackPort();

        var e = Assert.Throws<StoreException>(() => new PostgresDatabase(_server.With(b => (b.Host, b.Port, b.Password) = ("127.0.0.1", port, Secret))));

        Assert.StartsWith($"connecting to the PostgreSQL database 127.0.0.1:{port}/{_server.Name} as {_server.Settings.Username} failed: ", e.Message);
        Assert.Contains("check that PostgreSQL runs there and accepts TCP connections", e.Message);
        Assert.DoesNotContain(Secret, e.Message);
        Assert.IsAssignableFrom<NpgsqlException>(e.InnerException);
    }

    [Fact]
    public void Open_WithAWrongPassword_SaysToCheckTheUserAndPassword_WithoutShowingIt()
    {
        var e = Assert.Throws<StoreException>(() => new PostgresDatabase(_server.With(b => b.Password = Secret)));

        Assert.Contains("28P01", e.Message);
        Assert.Contains("check the Username and Password of the connection string", e.Message);
        Assert.DoesNotContain(Secret, e.Message);
    }

    [Fact]
    public void Open_ADatabaseThatDoesNotExist_SaysHowToCreateIt()
    {
        var e = Assert.Throws<StoreException>(() => new PostgresDatabase(_server.With(b => b.Database = _server.Name + "_missing")));

        Assert.Contains($"/{_server.Name}_missing as {_server.Settings.Username} failed: 3D000", e.Message);
        Assert.Contains("CREATE DATABASE name OWNER user", e.Message);
    }

    [Fact]
    public void Open_WithAMisspelledKeyword_SaysWhichOne_WithoutShowingTheValues()
    {
        var e = Assert.Throws<StoreException>(() => new PostgresDatabase($"Host=127.0.0.1;Username=nodeagent;Passwrd={Secret}"));

        Assert.Contains("the PostgreSQL connection string is not valid: Couldn't set passwrd", e.Message);
        Assert.DoesNotContain(Secret, e.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task WriteAsync_CommitsTheWork_OrNothingOfItWhenItThrows()
    {
        using var database = _server.Open();
        Assert.Equal($"{_server.Settings.Host}:{_server.Settings.Port}/{_server.Name} as {_server.Settings.Username}", database.Server);

        await Assert.ThrowsAsync<InvalidOperationException>(() => database.WriteAsync<int>((connection, _) =>
        {
            LeaseRows.Host(connection, "h1", new Resources(1, 1, 1), Resources.None);
            throw new InvalidOperationException("the work fails after its write");
        }));
        var written = await database.WriteAsync((connection, _) =>
        {
            LeaseRows.Host(connection, "h2", new Resources(1, 1, 1), Resources.None);
            return 2;
        });

        Assert.Equal(2, written);
        Assert.Equal(["h2"], database.Read(connection => PgSql.Rows(connection, "SELECT host_id FROM hosts")));
    }

    [Fact(Timeout = 60_000)]
    public async Task WriteAsync_EightWritersReservingFourAddresses_AssignEachOnce_AndTheOthersFailNamingTheConflict()
    {
        using var database = _server.Open();

        // Each writer reserves an address before it writes its lease (the reference is checked at commit), as placement does.
        var writers = Enumerable.Range(0, 8).Select(n => Task.Run(() => database.WriteAsync((connection, transaction) =>
        {
            PgSql.Execute(connection, transaction,
                "INSERT INTO addresses (network, address, lease_id, mac, state) VALUES ('lan', @address, @lease, @mac, 'assigned')",
                ("address", $"10.0.0.{10 + (n % 4)}"), ("lease", $"w-{n}"), ("mac", $"52:54:00:00:00:{n:x2}"));
            PgSql.Execute(connection, transaction, LeaseRows.InsertLease,
                ("id", $"w-{n}"), ("vcpus", 1), ("memory", 1L), ("disk", 1L), ("data_disks", 0L), ("state", "pending"), ("host", DBNull.Value));
            return n;
        }))).ToList();
        var outcomes = new List<Exception?>();
        foreach (var writer in writers)
        {
            outcomes.Add(await Record.ExceptionAsync(() => writer));
        }

        var addresses = database.Read(connection => PgSql.Rows(connection, "SELECT address FROM addresses ORDER BY address"));
        Assert.Equal(["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13"], addresses);
        Assert.Equal(4, outcomes.Count(e => e is null));
        Assert.All(outcomes.OfType<Exception>(), e =>
        {
            var store = Assert.IsType<StoreException>(e);
            Assert.Equal(PostgresErrorCodes.UniqueViolation, Assert.IsType<PostgresException>(store.InnerException).SqlState);
            Assert.Contains("another writer stored a conflicting row first", store.Message);
        });
    }

    [Fact]
    public void Read_ReadsEachColumnOnlyAsItsOwnType()
    {
        using var database = _server.Open();
        using var connection = database.OpenConnection();
        LeaseRows.Host(connection, "h1", new Resources(8, 16L << 30, 1L << 40), Resources.None);

        // The slim data source has no widening or narrowing readers: the schema's integer/bigint choice is what the store must read.
        var (vcpus, memory) = database.Read(c =>
        {
            using var command = new NpgsqlCommand("SELECT capacity_vcpus, capacity_memory_bytes, COUNT(*) OVER () FROM hosts", c);
            using var r = command.ExecuteReader();
            r.Read();
            Assert.Throws<InvalidCastException>(() => r.GetInt64(0));
            Assert.Throws<InvalidCastException>(() => r.GetInt32(1));
            Assert.Throws<InvalidCastException>(() => r.GetInt32(2));
            return (r.GetInt32(0), r.GetInt64(1));
        });

        Assert.Equal((8, 16L << 30), (vcpus, memory));
    }
}
