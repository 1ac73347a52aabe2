using System.Diagnostics;
using Npgsql;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Benchmarks;

/// <summary>
/// The schedulers one placement-benchmark size runs against: one process on an SQLite file in a temporary directory,
/// or <c>replicas</c> processes sharing a fresh database on the PostgreSQL server of the tests
/// (tests/setup/start-postgres.sh, or NODEAGENT_TEST_POSTGRES), dropped at the end. One channel per replica: the
/// benchmark spreads its clients and hosts over them.
/// </summary>
internal sealed class PlacementCluster : IAsyncDisposable
{
    private const string DefaultServer = "Host=127.0.0.1;Port=5432;Username=nodeagent;Password=nodeagent;Database=postgres";

    private readonly List<LeaseBenchmark.Child> _processes = [];
    private readonly string _work = Directory.CreateTempSubdirectory("nodeagent-bench-placement-").FullName;
    private string? _database;

    private PlacementCluster()
    {
    }

    public IReadOnlyList<RpcChannel> Channels { get; private set; } = [];

    /// <summary>Each replica's gRPC address, as the channels reach it.</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    /// <summary>Each replica's /metrics, on its image repository's listener.</summary>
    public List<Uri> MetricsAddresses { get; } = [];

    /// <summary>The process ids of the schedulers, for their memory.</summary>
    public IEnumerable<int> ProcessIds => _processes.Select(p => p.Id);

    public static async Task<PlacementCluster> StartAsync(string program, bool postgres, int replicas)
    {
        var cluster = new PlacementCluster();
        try
        {
            var database = Path.Combine(cluster._work, "s.db");
            var environment = new Dictionary<string, string>();
            if (postgres)
            {
                var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("NODEAGENT_TEST_POSTGRES") is { Length: > 0 } set ? set : DefaultServer)
                {
                    Pooling = false,
                };
                cluster._database = "nodeagent_bench_" + Guid.NewGuid().ToString("N")[..12];
                await AdminAsync(admin.ConnectionString, $"CREATE DATABASE {cluster._database}");
                environment["PGPASSWORD"] = admin.Password ?? string.Empty;
                database = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = cluster._database, Password = null, Pooling = true }.ConnectionString;
            }

            var addresses = new List<Uri>();
            foreach (var replica in Enumerable.Range(0, postgres ? replicas : 1))
            {
                var info = new ProcessStartInfo(program, ["--listen", "http://127.0.0.1:0", "--auth", "none", "--database", database, "--image-listen", "http://127.0.0.1:0",
                    "--image-repository", Path.Combine(cluster._work, $"images-{replica}"), "--config", "none"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                foreach (var (key, value) in environment)
                {
                    info.Environment[key] = value;
                }

                var child = new LeaseBenchmark.Child(Process.Start(info)!);
                cluster._processes.Add(child);
                addresses.Add(new Uri((await LeaseBenchmark.WaitForAsync(child, "listening on")).Split(' ')[^1]));
                // "… image repository at http://127.0.0.1:PORT/v1/images, files in DIR": /metrics is served on that listener.
                var images = new Uri((await LeaseBenchmark.WaitForAsync(child, "image repository at")).Split(' ')[4].TrimEnd(','));
                cluster.MetricsAddresses.Add(new Uri(images, "/metrics"));
            }

            cluster.Addresses = addresses;
            cluster.Channels = [.. addresses.Select(a => new RpcChannel(a))];
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in Channels)
        {
            channel.Dispose();
        }

        foreach (var process in _processes)
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
        }

        if (_database is not null)
        {
            var admin = Environment.GetEnvironmentVariable("NODEAGENT_TEST_POSTGRES") is { Length: > 0 } set ? set : DefaultServer;
            await AdminAsync(new NpgsqlConnectionStringBuilder(admin) { Pooling = false }.ConnectionString, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        }

        Directory.Delete(_work, recursive: true);
    }

    private static async Task AdminAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
