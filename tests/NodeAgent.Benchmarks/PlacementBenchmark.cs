using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Benchmarks;

/// <summary>
/// The scheduler under load, as its own process (the native-AOT program that is packaged) with its SQLite store, or as replicas sharing a
/// PostgreSQL database (<see cref="PlacementCluster"/>), driven over the real
/// protocol by simulated agents and clients in this process: for each cluster size, N hosts register (256 vCPUs,
/// 1 TiB each), heartbeats are sent as fast as 64 concurrent senders manage for a while, then a stream of
/// immediate leases is placed with 64 requests in flight. A placement is timed from the CreateLease call to its
/// answer, which comes after the lease and its claim on the host are committed. The scheduler's CPU time over each
/// phase and its resident memory at the end are read from /proc.
/// </summary>
public static partial class PlacementBenchmark
{
    internal const int InFlight = 64;

    /// <param name="sizes">Each cluster: its hosts and how many live leases it holds before the measured ones are placed.</param>
    /// <param name="postgres">Whether the store is PostgreSQL (a fresh database per size) rather than SQLite.</param>
    /// <param name="replicas">How many scheduler processes share the PostgreSQL database; clients and hosts are spread over them.</param>
    /// <param name="program">The scheduler to run: the native-AOT build that is packaged (make publish), by default.</param>
    /// <param name="runs">Each size runs this many times, each on a fresh scheduler; the run with the median placements/s is shown, with every run's figures beside it.</param>
    /// <param name="groupSize">Workspaces per request: 1 for CreateLease, more for CreateLeases groups of that many (every count divided by it).</param>
    /// <param name="h2load">Whether the timed placements are sent by h2load (<see cref="H2Load"/>) rather than this process's gRPC client.</param>
    /// <param name="inFlights">The timed placements' calls in flight: each size runs at each of them (64 unless given).</param>
    public static async Task<string> RunAsync(IReadOnlyList<(int Hosts, int Live)> sizes, int leases, TimeSpan heartbeatWindow, string program,
        bool postgres = false, int replicas = 1, int runs = 1, int groupSize = 1, bool h2load = false, IReadOnlyList<int>? inFlights = null)
    {
        inFlights ??= [InFlight];
        if (h2load && !H2Load.Installed)
        {
            throw new FileNotFoundException($"--client h2load: no {H2Load.Program}; install Debian's nghttp2-client (make bench-placement does), or give --client grpc", H2Load.Program);
        }

        if (!File.Exists(program))
        {
            throw new FileNotFoundException($"no scheduler program at {program}; run make publish first, or give --scheduler PROGRAM", program);
        }

        // Rounds: each runs every case once, so every case's runs spread over the same minutes of this machine's
        // changing speed, and the cases of one round can be compared pair by pair.
        var cases = sizes.SelectMany(size => inFlights.Select(inFlight => (Size: size, InFlight: inFlight))).ToList();
        var done = cases.Select(_ => new List<SizeRun>()).ToList();
        for (var run = 0; run < runs; run++)
        {
            for (var c = 0; c < cases.Count; c++)
            {
                await using var cluster = await PlacementCluster.StartAsync(program, postgres, replicas);
                done[c].Add(await RunOneAsync(cluster, cases[c].Size.Hosts, cases[c].Size.Live, leases, heartbeatWindow, groupSize, h2load, cases[c].InFlight));
                Console.WriteLine(done[c][^1].Cells + " |");
            }
        }

        var rows = done.Select(runsOfCase =>
        {
            var median = runsOfCase.OrderBy(r => r.PerSecond).ElementAt(runsOfCase.Count / 2);
            return median.Cells + " | " + string.Join("; ", runsOfCase.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.PerSecond:N0} at {r.CpuPerPlacement * 1e6:N0} µs, p99 {r.P99:0.0} ms"))) + " |";
        }).ToList();

        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        return $"""
            | hosts | live leases before | calls in flight | placements/s | p50 | p99 | p50, 4 in flight | p99, 4 in flight | live leases at the end | a /metrics scrape | choosing a host | writes per commit | in write transactions | scheduler CPU per placement | the same less heartbeats | client CPU per placement | heartbeats/s | scheduler CPU per heartbeat | client CPU per heartbeat | scheduler resident memory | every run: placements/s at CPU per placement, p99 |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
            {string.Join("\n", rows)}

            {(postgres
                ? $"{replicas} scheduler process{(replicas == 1 ? "" : "es")} per size on one fresh PostgreSQL 15 database on this machine (`{Shown(program)}`, default placement options: sample 64; the clients and hosts spread evenly over the replicas; memory is the largest replica's; live leases at the end as one replica shows them 2 s after the last placement, when it may not yet have read every other replica's last ones)"
                : $"One scheduler process per size (`{Shown(program)}`, SQLite store in a temporary directory, default placement options: sample 64)")},
            driven over gRPC on loopback{(h2load
                ? $" (the timed placements sent by h2load, nghttp2's HTTP/2 load generator: one connection per replica, the same message on every call, and the schedulers' placed counter checked against the count asked for; the heartbeat window's heartbeats written by this program as HTTP/2 frames on one connection per replica, each call checked for an answering message; everything else by this program's gRPC client)"
                : " from one client process")}. Placements: {string.Join(", ", inFlights)} {(groupSize == 1 ? "CreateLease calls" : $"CreateLeases calls of {groupSize} workspaces each")}
            in flight, {leases} immediate leases of 1 vCPU and 512 MiB per size, timed, after the live leases before
            (placed the same way, untimed), then up to 1,000 more with 4 in flight for the latency of a scheduler that is
            not saturated (with many in flight, p50 is mostly waiting in line){(groupSize == 1 ? "" : $"; placements/s counts workspaces, and a latency is a whole group's, from the call to its answer")}; all while every host sends a heartbeat
            every 5 s as its agent would. Heartbeats/s:
            before the leases, {InFlight} concurrent senders for {heartbeatWindow.TotalSeconds:0} s, round robin over the
            hosts, with the default interval and TTL (5 s, 15 s). A heartbeat is written to the database when the last
            one written is half the TTL old or what it reports changed; at this rate nearly every one stays in memory, so
            the figure is what the ingest path takes (at the real rate every other one is written: 1,000 writes/s at
            10,000 hosts). Scheduler CPU per placement and per heartbeat: the scheduler processes' user and system CPU
            time (from /proc) over the timed placements or the heartbeat window, divided by their count; the placements'
            figure includes the heartbeats every host sends meanwhile (at 10,000 hosts, 2,000 a second). It is the cost
            that does not depend on how much of the 2 cores the client takes. The same less heartbeats: less the
            heartbeats answered during the timed placements, each at the scheduler CPU per heartbeat of the heartbeat
            window (where 64 in flight share one connection, so it may cost less than one of these: the figure errs
            high). Client CPU per placement: the same for the
            benchmark's own process{(h2load ? " and h2load" : "")} (the requests, and every host's heartbeats meanwhile), which share the 2 cores; client CPU per heartbeat, the benchmark's process over the heartbeat window. Each size{(inFlights.Count > 1 ? " at each number of calls in flight" : "")} ran {runs} time{(runs == 1 ? "" : "s")} on a fresh scheduler, in rounds that run every size once in the order above; the
            row is the run with the median placements/s, and the last column gives every run (this machine's speed varies
            from one minute to the next, as other machines share its cores). A /metrics scrape: the median of 5, after
            the placements, as Prometheus would make it (it counts the live leases by state). Choosing a host: the mean time
            the scheduler spent choosing among the sampled hosts per timed placement, from its own
            nodeagent_scheduler_placement_duration_seconds (wall time, so it includes time the thread waited for a core). Writes per
            commit and the share of the timed placements' time spent in write transactions: from
            nodeagent_scheduler_store_commit_writes and _commit_duration_seconds{(postgres ? " (on PostgreSQL every write commits alone, and the share adds up the replicas' transactions, which run at once)" : "; SQLite has one writer, so near 100% it is what placements wait for")}. Targets (issue 10): ≥ 10,000 placements/s at 10,000 hosts, p99 ≤ 10 ms, ≥ 50,000 heartbeats/s,
            placement cost flat from 1,000 to 10,000 hosts. Load average at the end: {load} on
            {Environment.ProcessorCount} cores, shared by the scheduler{(postgres ? "s, PostgreSQL" : "")} and the client.
            """;
    }

    /// <summary>Adds the image the bench leases run and registers <paramref name="hosts"/> hosts (bench-00000, …), each through its agent client; their ids.</summary>
    private static async Task<string[]> RegisterAsync(RpcChannel channel, int hosts, Func<string, AgentServiceClient> agentOf)
    {
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("bench"u8));
        await new ImageServiceClient(channel).AddImageAsync(new AddImageRequest { Name = "bench", Url = "https://images.example/bench.qcow2", Sha256 = digest });
        var ids = Enumerable.Range(0, hosts).Select(i => $"bench-{i:D5}").ToArray();
        await ForAllAsync(ids, id => agentOf(id).RegisterHostAsync(new RegisterHostRequest { Host = PlacementHosts.Info(id) }));
        return ids;
    }

    /// <summary>The program as the report names it: relative to the repository when it is in it.</summary>
    private static string Shown(string program)
    {
        var relative = Path.GetRelativePath(LeaseBenchmark.FindRoot(), program);
        return relative.StartsWith("..", StringComparison.Ordinal) ? program : relative;
    }

    /// <summary>One run of one size: its row's cells (without the closing bar), and the figures runs are compared by.</summary>
    private sealed record SizeRun(double PerSecond, double CpuPerPlacement, double P99, string Cells);

    private static async Task<SizeRun> RunOneAsync(PlacementCluster cluster, int hosts, int live, int leases, TimeSpan heartbeatWindow, int groupSize, bool h2load, int inFlight)
    {
        var channels = cluster.Channels;
        var agents = channels.Select(c => new AgentServiceClient(c)).ToArray();
        // Host i always speaks to replica i mod N, as an agent keeps to the scheduler it reached.
        AgentServiceClient AgentOf(string id) => agents[int.Parse(id.AsSpan(6), CultureInfo.InvariantCulture) % agents.Length];
        var ids = await RegisterAsync(channels[0], hosts, AgentOf);
        var cpuBefore = CpuSeconds(cluster.ProcessIds);
        var clientBefore = CpuSeconds([Environment.ProcessId]);
        var (heartbeats, sent) = h2load
            ? await PlacementHosts.RawHeartbeatsPerSecondAsync(cluster.Addresses, ids, heartbeatWindow)
            : await PlacementHosts.HeartbeatsPerSecondAsync(AgentOf, ids, heartbeatWindow);
        var cpuPerHeartbeat = (CpuSeconds(cluster.ProcessIds) - cpuBefore) / sent;
        var clientPerHeartbeat = (CpuSeconds([Environment.ProcessId]) - clientBefore) / sent;
        if (h2load)
        {
            // The gRPC client that keeps every host beating while leases are placed, compiled before anything is timed.
            await PlacementHosts.HeartbeatsPerSecondAsync(AgentOf, ids, TimeSpan.FromSeconds(3));
        }

        // While leases are placed, every host beats every 5 s as an agent does: hosts stay up past the TTL, and
        // placement is measured under the heartbeat load of the cluster's size.
        using var placing = new CancellationTokenSource();
        var beats = new StrongBox<long>();
        var keepAlive = PlacementHosts.KeepAliveAsync(AgentOf, ids, beats, placing.Token);
        var leaseClients = channels.Select(c => new LeaseServiceClient(c)).ToArray();
        await PlaceAsync(leaseClients, new double[live / groupSize], groupSize);
        var latencies = new double[leases / groupSize];
        cpuBefore = CpuSeconds(cluster.ProcessIds);
        clientBefore = CpuSeconds([Environment.ProcessId], withChildren: true);
        var beatsBefore = Interlocked.Read(ref beats.Value);
        var sumsBefore = await SumsAsync(cluster.MetricsAddresses);
        var perSecond = h2load
            ? await H2Load.CallAsync(cluster.Addresses, groupSize == 1 ? CreateLeaseMethod : CreateLeasesMethod,
                groupSize == 1 ? Request() : new CreateLeasesRequest { Lease = Request(), Count = (uint)groupSize }, latencies, inFlight) * groupSize
            : await PlaceAsync(leaseClients, latencies, groupSize, inFlight);
        var cpuPerPlacement = (CpuSeconds(cluster.ProcessIds) - cpuBefore) / leases;

        // The same less what the heartbeats answered meanwhile cost, at the scheduler's CPU per heartbeat measured in
        // the heartbeat window: what placing itself costs as the cluster grows, apart from its hosts' heartbeats.
        var cpuLessHeartbeats = cpuPerPlacement - (Interlocked.Read(ref beats.Value) - beatsBefore) * cpuPerHeartbeat / leases;
        var clientPerPlacement = (CpuSeconds([Environment.ProcessId], withChildren: true) - clientBefore) / leases;
        var sums = (await SumsAsync(cluster.MetricsAddresses)).Minus(sumsBefore);
        if (sums.Of(PlacedTotal) != leases || sums.Of(RefusedTotal) != 0)
        {
            throw new InvalidOperationException($"{leases} workspaces were asked for; the schedulers placed {sums.Of(PlacedTotal)} and refused {sums.Of(RefusedTotal)}");
        }
        var choosing = sums.Of(ChoosingSum) / Math.Max(1, sums.Of(ChoosingCount));
        var writesPerCommit = sums.Of(CommitWritesSum) / Math.Max(1, sums.Of(CommitWritesCount));
        var writing = sums.Of(CommitSecondsSum) / (leases / perSecond);
        // Latency as one client sees it when the scheduler is not saturated: 4 calls in flight.
        var unloaded = new double[Math.Min(leases, 1000) / groupSize];
        await PlaceAsync(leaseClients, unloaded, groupSize, inFlight: 4);
        Array.Sort(unloaded);
        await placing.CancelAsync();
        await keepAlive;
        Array.Sort(latencies);
        // Every bench lease holds 1 vCPU: what the hosts hold counts the live leases without listing 100,000 of them.
        // A replica learns what the others placed when it reads its hosts again, every second.
        if (channels.Count > 1)
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
        }

        var scrape = await ScrapeMillisecondsAsync(cluster.MetricsAddresses[0]);
        var atEnd = 0L;
        var next = string.Empty;
        do
        {
            var page = await new HostServiceClient(channels[0]).ListHostsAsync(new ListHostsRequest { PageSize = 5000, PageToken = next });
            atEnd += page.Hosts.Sum(h => (long)h.Allocated.Vcpus);
            next = page.NextPageToken;
        }
        while (next.Length > 0);
        var p99 = latencies[(int)(latencies.Length * 0.99)];
        return new SizeRun(perSecond, cpuPerPlacement, p99, string.Create(CultureInfo.InvariantCulture,
            $"| {hosts:N0} | {live:N0} | {inFlight} | {perSecond:N0} | {latencies[latencies.Length / 2]:0.0} ms | {p99:0.0} ms | " +
            $"{unloaded[unloaded.Length / 2]:0.0} ms | {unloaded[(int)(unloaded.Length * 0.99)]:0.0} ms | {atEnd:N0} | {scrape:0.0} ms | {choosing * 1e6:N0} µs | {writesPerCommit:0.0} | {writing:P0} | {cpuPerPlacement * 1e6:N0} µs | {cpuLessHeartbeats * 1e6:N0} µs | {clientPerPlacement * 1e6:N0} µs | {heartbeats:N0} | {cpuPerHeartbeat * 1e6:N0} µs | {clientPerHeartbeat * 1e6:N0} µs | {cluster.ProcessIds.Max(ResidentMib):0.0} MiB"));
    }

    /// <summary>
    /// Makes one request per entry of <paramref name="latencies"/> (a lease, or a group of <paramref name="groupSize"/>),
    /// <paramref name="inFlight"/> at a time, recording each one's time; returns workspaces placed per second.
    /// </summary>
    private static async Task<double> PlaceAsync(LeaseServiceClient[] clients, double[] latencies, int groupSize, int inFlight = InFlight)
    {
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async caller =>
        {
            var leases = clients[caller % clients.Length];
            int i;
            while ((i = Interlocked.Increment(ref next)) < latencies.Length)
            {
                var started = Stopwatch.GetTimestamp();
                var placed = groupSize == 1
                    ? [await leases.CreateLeaseAsync(Request())]
                    : (await leases.CreateLeasesAsync(new CreateLeasesRequest { Lease = Request(), Count = (uint)groupSize })).Leases;
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (placed.FirstOrDefault(l => l.State != LeaseState.Starting) is { } lease)
                {
                    throw new InvalidOperationException($"request {i} was not placed: {lease.State} ({lease.StateReason})");
                }
            }
        }));
        return latencies.Length * groupSize / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The median time of 5 GETs of the scheduler's /metrics, which counts the live leases by state.</summary>
    private static async Task<double> ScrapeMillisecondsAsync(Uri metrics)
    {
        using var http = new HttpClient();
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync(metrics);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsStringAsync();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return times.Order().ElementAt(times.Count / 2);
    }

    private const string CreateLeaseMethod = "/nodeagent.v1.LeaseService/CreateLease";
    private const string CreateLeasesMethod = "/nodeagent.v1.LeaseService/CreateLeases";
    private const string PlacedTotal = "nodeagent_scheduler_placements_total{outcome=\"placed\"}";
    private const string RefusedTotal = "nodeagent_scheduler_placements_total{outcome=\"refused\"}";
    private const string ChoosingSum = "nodeagent_scheduler_placement_duration_seconds_sum";
    private const string ChoosingCount = "nodeagent_scheduler_placement_duration_seconds_count";
    private const string CommitWritesSum = "nodeagent_scheduler_store_commit_writes_sum";
    private const string CommitWritesCount = "nodeagent_scheduler_store_commit_writes_count";
    private const string CommitSecondsSum = "nodeagent_scheduler_store_commit_duration_seconds_sum";

    /// <summary>
    /// The schedulers' sums so far, from their /metrics, of the time spent choosing hosts and how many choices, and of
    /// their write transactions: how many, the writes they committed, and their time.
    /// </summary>
    private static async Task<MetricSums> SumsAsync(IEnumerable<Uri> metrics)
    {
        using var http = new HttpClient();
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var address in metrics)
        {
            foreach (var line in (await http.GetStringAsync(address)).Split('\n'))
            {
                var space = line.IndexOf(' ');
                if (space > 0 && line[..space] is ChoosingSum or ChoosingCount or CommitWritesSum or CommitWritesCount or CommitSecondsSum or PlacedTotal or RefusedTotal)
                {
                    sums[line[..space]] = sums.GetValueOrDefault(line[..space]) + double.Parse(line.AsSpan(space + 1), CultureInfo.InvariantCulture);
                }
            }
        }

        return new MetricSums(sums);
    }

    private sealed record MetricSums(Dictionary<string, double> Sums)
    {
        public double Of(string name) => Sums.GetValueOrDefault(name);

        public MetricSums Minus(MetricSums before) => new(Sums.ToDictionary(s => s.Key, s => s.Value - before.Of(s.Key), StringComparer.Ordinal));
    }

    /// <summary>
    /// The CPU time (user and system) the processes have used so far, from /proc/PID/stat; <paramref name="withChildren"/>
    /// adds that of their children that have exited (h2load's, once it is done).
    /// </summary>
    private static double CpuSeconds(IEnumerable<int> pids, bool withChildren = false) => pids.Sum(pid =>
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
        // 12th and 13th, the exited children's cutime and cstime the 14th and 15th.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        if (withChildren)
        {
            ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        }

        return ticks / (double)ClockTicksPerSecond;
    });

    /// <summary>The unit of /proc's CPU times (USER_HZ): 100 on Linux on every architecture this runs on.</summary>
    private const int ClockTicksPerSecond = 100;

    internal static async Task ForAllAsync(string[] items, Func<string, Task> work, int inFlight = InFlight)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < items.Length)
            {
                await work(items[i]);
            }
        }));
    }

    private static CreateLeaseRequest Request() => new()
    {
        Image = "bench",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(8)),
    };

    private static double ResidentMib(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
