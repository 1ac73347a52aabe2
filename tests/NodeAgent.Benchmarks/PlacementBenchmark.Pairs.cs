using System.Globalization;
using System.Runtime.CompilerServices;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Placement cost at two cluster sizes, measured in alternating bursts: both schedulers are started and kept beating
/// side by side, and bursts of placements go to one, then the other, round after round (the order swapped each
/// round). A burst lasts about half a second, so the two of a round run at nearly the same moment. This machine's
/// speed changes from one minute to the next, by 20% and more, as other machines share its cores; runs a minute apart
/// cannot show a 5% difference, pairs half a second apart can.
/// </summary>
public static partial class PlacementBenchmark
{
    /// <summary>One scheduler, its hosts registered and beating, ready for bursts.</summary>
    private sealed class BeatingCluster(PlacementCluster cluster, int hosts, double cpuPerHeartbeat, StrongBox<long> beats, Task keepAlive, CancellationTokenSource stop)
    {
        public PlacementCluster Cluster => cluster;

        public int Hosts => hosts;

        public double CpuPerHeartbeat => cpuPerHeartbeat;

        public StrongBox<long> Beats => beats;

        public async Task StopAsync()
        {
            await stop.CancelAsync();
            await keepAlive;
            stop.Dispose();
        }
    }

    /// <summary>One burst's figures: scheduler CPU per placement, the same less the heartbeats answered meanwhile, and the mean time choosing.</summary>
    private sealed record Burst(double Cpu, double CpuLessHeartbeats, double Choosing, double PerSecond);

    /// <param name="programs">The scheduler to run, or two: the first for the smaller size, the second for the larger (to compare two programs, give one size twice).</param>
    public static async Task<string> RunPairsAsync(int smallHosts, int largeHosts, int rounds, int burst, IReadOnlyList<string> programs)
    {
        var program = programs[0];
        var largeProgram = programs[^1];
        if (!H2Load.Installed)
        {
            throw new FileNotFoundException($"no {H2Load.Program}; install Debian's nghttp2-client (make bench-placement-pairs does)", H2Load.Program);
        }

        foreach (var path in programs)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"no scheduler program at {path}; run make publish first, or give --scheduler PROGRAM[,PROGRAM]", path);
            }
        }

        await using var smallCluster = await PlacementCluster.StartAsync(program, postgres: false, replicas: 1);
        await using var largeCluster = await PlacementCluster.StartAsync(largeProgram, postgres: false, replicas: 1);
        var small = await BeatAsync(smallCluster, smallHosts);
        var large = await BeatAsync(largeCluster, largeHosts);
        var rows = new List<(Burst Small, Burst Large)>();
        try
        {
            // A first burst each, untimed: both schedulers' code paths and caches are warm before the pairs.
            await BurstAsync(small, burst);
            await BurstAsync(large, burst);
            for (var round = 0; round < rounds; round++)
            {
                if (round % 2 == 0)
                {
                    var s = await BurstAsync(small, burst);
                    rows.Add((s, await BurstAsync(large, burst)));
                }
                else
                {
                    var l = await BurstAsync(large, burst);
                    rows.Add((await BurstAsync(small, burst), l));
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: {rows[^1].Small.CpuLessHeartbeats * 1e6:N1} µs against {rows[^1].Large.CpuLessHeartbeats * 1e6:N1} µs"));
            }
        }
        finally
        {
            await small.StopAsync();
            await large.StopAsync();
        }

        return PairsReport(smallHosts, largeHosts, rounds, burst, programs, rows);
    }

    /// <summary>Registers <paramref name="hosts"/> hosts, measures what a heartbeat costs, and keeps every host beating every 5 s.</summary>
    private static async Task<BeatingCluster> BeatAsync(PlacementCluster cluster, int hosts)
    {
        var agents = new AgentServiceClient(cluster.Channels[0]);
        var ids = await RegisterAsync(cluster.Channels[0], hosts, _ => agents);
        var before = CpuSeconds(cluster.ProcessIds);
        var (_, sent) = await PlacementHosts.RawHeartbeatsPerSecondAsync(cluster.Addresses, ids, TimeSpan.FromSeconds(3));
        var cpuPerHeartbeat = (CpuSeconds(cluster.ProcessIds) - before) / sent;
        await PlacementHosts.HeartbeatsPerSecondAsync(_ => agents, ids, TimeSpan.FromSeconds(1));
        var stop = new CancellationTokenSource();
        var beats = new StrongBox<long>();
        return new BeatingCluster(cluster, hosts, cpuPerHeartbeat, beats, PlacementHosts.KeepAliveAsync(_ => agents, ids, beats, stop.Token), stop);
    }

    /// <summary>Places <paramref name="count"/> leases on the cluster with h2load, 64 in flight, and what that cost the scheduler.</summary>
    private static async Task<Burst> BurstAsync(BeatingCluster beating, int count)
    {
        var cluster = beating.Cluster;
        var sumsBefore = await SumsAsync(cluster.MetricsAddresses);
        var beatsBefore = Interlocked.Read(ref beating.Beats.Value);
        var cpuBefore = CpuSeconds(cluster.ProcessIds);
        var perSecond = await H2Load.CallAsync(cluster.Addresses, CreateLeaseMethod, Request(), new double[count], InFlight);
        var cpu = (CpuSeconds(cluster.ProcessIds) - cpuBefore) / count;
        var heartbeats = Interlocked.Read(ref beating.Beats.Value) - beatsBefore;
        var sums = (await SumsAsync(cluster.MetricsAddresses)).Minus(sumsBefore);
        if (sums.Of(PlacedTotal) != count)
        {
            throw new InvalidOperationException($"{count} workspaces were asked for; the scheduler at {beating.Hosts} hosts placed {sums.Of(PlacedTotal)}");
        }

        return new Burst(cpu, cpu - heartbeats * beating.CpuPerHeartbeat / count, sums.Of(ChoosingSum) / Math.Max(1, sums.Of(ChoosingCount)), perSecond);
    }

    private static string PairsReport(int smallHosts, int largeHosts, int rounds, int burst, IReadOnlyList<string> programs, List<(Burst Small, Burst Large)> rows)
    {
        static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
        static string Percent(double ratio) => string.Create(CultureInfo.InvariantCulture, $"{(ratio - 1) * 100:+0.0;−0.0;0.0}%");

        var ratios = rows.Select(r => r.Large.CpuLessHeartbeats / r.Small.CpuLessHeartbeats).ToList();
        var mean = ratios.Average();
        var error = Math.Sqrt(ratios.Sum(r => (r - mean) * (r - mean)) / (ratios.Count - 1) / ratios.Count);
        var choosing = rows.Select(r => r.Large.Choosing / r.Small.Choosing).ToList();
        var table = string.Join("\n", rows.Select((r, i) => string.Create(CultureInfo.InvariantCulture,
            $"| {i + 1} | {(i % 2 == 0 ? $"{smallHosts:N0} first" : $"{largeHosts:N0} first")} | {r.Small.Cpu * 1e6:N1} µs | {r.Large.Cpu * 1e6:N1} µs | {r.Small.CpuLessHeartbeats * 1e6:N1} µs | {r.Large.CpuLessHeartbeats * 1e6:N1} µs | {Percent(ratios[i])} | {r.Small.Choosing * 1e6:N1} µs | {r.Large.Choosing * 1e6:N1} µs | {r.Small.PerSecond:N0} | {r.Large.PerSecond:N0} |")));
        return string.Create(CultureInfo.InvariantCulture, $"""
            | round | order | scheduler CPU per placement, {smallHosts:N0} hosts | the same, {largeHosts:N0} hosts | less heartbeats, {smallHosts:N0} hosts | less heartbeats, {largeHosts:N0} hosts | {largeHosts:N0} against {smallHosts:N0} | choosing a host, {smallHosts:N0} | choosing a host, {largeHosts:N0} | placements/s, {smallHosts:N0} | placements/s, {largeHosts:N0} |
            |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
            {table}

            Scheduler CPU per placement less heartbeats, {largeHosts:N0} hosts against {smallHosts:N0}: median {Percent(Median(ratios))}, mean {Percent(mean)} ± {error * 100:0.0}% (standard error), {ratios.Count(r => r > 1)} of {ratios.Count} rounds higher; choosing a host: median {Percent(Median(choosing))}.

            Two schedulers (`{string.Join("` and `", programs.Select(Shown))}`, SQLite store in a temporary directory each, default placement options: sample 64),
            one with {smallHosts:N0} hosts and one with {largeHosts:N0}, run side by side. Each registers its hosts, measures its CPU per
            heartbeat (64 in flight for 3 s) and then keeps every host beating every 5 s, as agents do, to the end. Then
            {rounds} rounds: in each, a burst of {burst:N0} CreateLease calls (1 vCPU, 512 MiB, 64 in flight, sent by h2load) to one
            scheduler and then to the other, the smaller first in odd rounds and the larger first in even ones, after one
            untimed burst each. Leases stay placed, so the last round's bursts find {burst * rounds:N0} live leases before them on
            either scheduler. Scheduler CPU per placement: its process's user and system CPU time (from /proc, in 10 ms
            ticks) over the burst, divided by the placements; less heartbeats: less the heartbeats it answered during the
            burst at its CPU per heartbeat. Choosing a host: the mean of nodeagent_scheduler_placement_duration_seconds
            over the burst (wall time). The other scheduler's heartbeats go on during a burst: the smaller's bursts share
            the machine with {largeHosts / 5:N0} heartbeats a second, the larger's with {smallHosts / 5:N0} (about 2% of a core apart). Target
            (issue 10): placement cost flat from 1,000 to 10,000 hosts.
            """);
    }
}
