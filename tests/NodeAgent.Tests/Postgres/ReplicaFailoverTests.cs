using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Scheduler;
using NodeAgent.Tests.Service;
using NodeAgent.Tests.Support;
using Xunit.Abstractions;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// Three scheduler processes on one real PostgreSQL database, under lease traffic from clients that each know all
/// three addresses, while a seeded killer sends SIGKILL to a random replica at random moments and starts it again on its
/// port. Afterwards the database is read directly: every lease a client was told of is stored once, under its request
/// id; no request id is stored twice; no host holds more than its capacity, and what each host's row says it holds is
/// what its leases hold; no address is assigned twice.
/// </summary>
public sealed class ReplicaFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Replicas = 3;
    private const int Hosts = 12;
    private const uint HostVcpus = 32;
    private const int Clients = 6;
    private static readonly TimeSpan Traffic = TimeSpan.FromSeconds(25);

    private readonly PostgresTestDatabase _database = new();
    private readonly TempDirectory _directory = new();
    private readonly Uri[] _addresses = [.. Enumerable.Range(0, Replicas).Select(_ => DeadAddress.Next())];
    private readonly ChildProcess?[] _replicas = new ChildProcess?[Replicas];

    public async Task InitializeAsync()
    {
        for (var i = 0; i < Replicas; i++)
        {
            await StartReplicaAsync(i);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            if (replica is not null)
            {
                await replica.DisposeAsync();
            }
        }

        _database.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task KillNineOfRandomReplicas_UnderLeaseTraffic_NoLeaseLostOrDuplicated_NoHostOversubscribed()
    {
        using var setup = new RpcChannel(_addresses);
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("failover"u8));
        await new ImageServiceClient(setup).AddImageAsync(new AddImageRequest { Name = "debian-12", Url = "https://images.example/debian-12.qcow2", Sha256 = digest });
        var agents = Enumerable.Range(0, Hosts).Select(i => new FakeAgent(setup, $"host-{i:D2}")).ToList();
        foreach (var agent in agents)
        {
            await agent.RegisterAsync(HostVcpus, "lab");
        }

        using var stop = new CancellationTokenSource(Traffic);
        var heartbeats = KeepAliveAsync(agents, stop.Token);
        var killer = KillAsync(new Random(20261122), stop.Token);
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, Lease>();
        var longestWait = TimeSpan.Zero;
        var gate = new Lock();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            // Each client lists the replicas in its own order, so the traffic is spread over all three.
            using var channel = new RpcChannel([.. _addresses.Skip(client % Replicas), .. _addresses.Take(client % Replicas)]);
            var leases = new LeaseServiceClient(channel);
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var requestId = $"c{client}-{n}";
                var (lease, waited) = await UntilAnsweredAsync(() => leases.CreateLeaseAsync(Request(requestId)));
                acknowledged[requestId] = lease;
                if (lease.State == LeaseState.Starting && n % 2 == 0)
                {
                    // Every other placed lease is released at once; the hosts' next heartbeats, which list no
                    // workspace, end it, and its capacity is placed on again.
                    await UntilAnsweredAsync(() => leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id }));
                }

                lock (gate)
                {
                    longestWait = waited > longestWait ? waited : longestWait;
                }
            }
        })));
        await heartbeats;
        var kills = await killer;

        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        var stored = PgSql.Rows(connection, "SELECT request_id, lease_id, state, COALESCE(host_id, '') FROM leases")
            .Select(row => row.Split(" | ")).ToList();

        output.WriteLine($"{acknowledged.Count} leases answered over {Traffic.TotalSeconds:0} s with {kills} replicas killed; " +
            $"{acknowledged.Values.Count(l => l.State == LeaseState.Starting)} placed, {stored.Count(r => r[2] == "ended")} of them released and ended; the longest a request waited for an answer: {longestWait.TotalSeconds:0.0} s");
        Assert.True(kills >= 3, $"the killer killed only {kills} replicas");
        Assert.Contains(acknowledged.Values, l => l.State == LeaseState.Starting);

        // Not lost, and not stored twice: each answer is the one lease stored under its request id.
        Assert.Equal(stored.Count, stored.Select(r => r[0]).Distinct().Count());
        var byRequest = stored.ToDictionary(r => r[0], r => r);
        Assert.All(acknowledged, pair =>
        {
            Assert.True(byRequest.TryGetValue(pair.Key, out var row), $"request {pair.Key} was answered with {pair.Value.Id} but nothing is stored under it");
            Assert.Equal(pair.Value.Id, row[1]);
        });
        Assert.Equal(acknowledged.Count, stored.Count);

        // No host past its capacity; what each row says it holds is what its leases hold.
        var held = PgSql.Rows(connection, """
            SELECT h.host_id, h.capacity_vcpus, h.held_vcpus,
                   (SELECT COALESCE(SUM(vcpus), 0) FROM leases l WHERE l.host_id = h.host_id AND l.state IN ('starting', 'running', 'stopped', 'paused', 'stopping'))
            FROM hosts h
            """).Select(row => row.Split(" | ").Skip(1).Select(long.Parse).ToArray()).ToList();
        Assert.All(held, h =>
        {
            Assert.True(h[1] <= h[0], $"a host holds {h[1]} vCPUs of {h[0]}");
            Assert.Equal(h[2], h[1]);
        });

        var addresses = PgSql.Rows(connection, "SELECT address FROM addresses WHERE state = 'assigned'");
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        Assert.Equal(stored.Count(r => r[2] is "starting" or "stopping"), addresses.Count);
        Assert.Empty(PgSql.Rows(connection, "SELECT a.address FROM addresses a JOIN leases l USING (lease_id) WHERE a.state = 'assigned' AND l.state IN ('ended', 'failed')"));
    }

    /// <summary>Calls until an answer comes, as a client that keeps its request id does; returns it and how long it took.</summary>
    private static async Task<(T Answer, TimeSpan Waited)> UntilAnsweredAsync<T>(Func<Task<T>> call)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return (await call(), clock.Elapsed);
            }
            catch (RpcException e) when (clock.Elapsed < TimeSpan.FromSeconds(60) && e.Status is not (StatusCode.InvalidArgument or StatusCode.NotFound))
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A heartbeat from every host each second, through whichever replica answers; returns when stopped.</summary>
    private static async Task KeepAliveAsync(IReadOnlyList<FakeAgent> agents, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var agent in agents)
            {
                try
                {
                    await agent.HeartbeatAsync();
                }
                catch (RpcException)
                {
                    // The replica was killed under this heartbeat; the next one goes to another.
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
        }
    }

    /// <summary>Every 2 to 5 s, SIGKILL to a random replica, which is started again on its port 0.2 to 1.5 s later; returns how many were killed.</summary>
    private async Task<int> KillAsync(Random random, CancellationToken stop)
    {
        var kills = 0;
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(2000, 5000)), CancellationToken.None);
            if (stop.IsCancellationRequested)
            {
                return kills;
            }

            var victim = random.Next(Replicas);
            await ServiceProcesses.SignalAsync(_replicas[victim]!, "KILL");
            await _replicas[victim]!.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await _replicas[victim]!.DisposeAsync();
            kills++;
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1500)), CancellationToken.None);
            await StartReplicaAsync(victim);
        }
    }

    /// <summary>Starts replica <paramref name="index"/> on its address, the password in PGPASSWORD rather than on its command line.</summary>
    private async Task StartReplicaAsync(int index)
    {
        var settings = _database.Settings;
        var password = settings.Password!;
        settings.Password = null;
        _replicas[index] = ChildProcess.Start(
            Repository.ProgramPath("scheduler/NodeAgent.Scheduler", "nodeagent-scheduler"),
            ["--listen", _addresses[index].ToString(), "--image-listen", "none", "--image-repository", Path.Combine(_directory.Path, $"images-{index}"),
             "--auth", "none", "--database", settings.ConnectionString, "--network", "lab=10.80.0.0/16,gateway=10.80.0.1", "--config", "none"],
            new Dictionary<string, string> { ["PGPASSWORD"] = password });
        await _replicas[index]!.WaitForLineAsync("nodeagent-scheduler listening on", ServiceProcesses.StartTimeout);
        var store = await _replicas[index]!.WaitForLineAsync("nodeagent-scheduler store:", ServiceProcesses.StartTimeout);
        Assert.Contains($"store: postgresql {settings.Host}:{settings.Port}/{_database.Name} as {settings.Username}", store, StringComparison.Ordinal);
        Assert.DoesNotContain("password", _replicas[index]!.Output, StringComparison.OrdinalIgnoreCase);
    }

    private static CreateLeaseRequest Request(string requestId) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
        Network = "lab",
        RequestId = requestId,
    };
}
