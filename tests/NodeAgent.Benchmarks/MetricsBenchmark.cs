using System.Diagnostics;
using System.Globalization;
using System.Text;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Metrics;
using NodeAgent.Agent.Reporting;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract.V1;
using NodeAgent.Metrics;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Renders the agent's /metrics with 100 workspaces' worth of series through the agent's real registry, families and
/// <see cref="WorkspaceStatsCollector"/>, fed synthetic bulk stats (2 vCPUs, 1 NIC, 2 disks each, as the QEMU driver
/// reports them) instead of libvirt: render time, body size, and the CPU one collection pass costs.
/// </summary>
public static class MetricsBenchmark
{
    private const double TargetMs = 10;

    public static string Run(int workspaces, int runs)
    {
        var registry = new MetricsRegistry();
        var agent = new AgentMetrics(registry);
        var hypervisor = new SyntheticHypervisor(workspaces);
        var desired = new DesiredState();
        var set = new DesiredWorkspaces { Version = 1 };
        set.Workspaces.Add(Enumerable.Range(0, workspaces).Select(i => new WorkspaceSpec { Id = SyntheticHypervisor.Id(i), Owner = $"user{i % 10}" }));
        desired.Publish(set);
        _ = new WorkspaceStatsCollector(registry, hypervisor, desired, new WorkspaceInventory(hypervisor, "bench-host"));
        for (var i = 0; i < 50; i++)
        {
            agent.WorkspaceDrive.Observe(i / 100.0);
            agent.LibvirtErrors.Inc();
        }

        // Warm-up, not counted: JIT and the first allocations of the render path.
        for (var i = 0; i < 50; i++)
        {
            _ = registry.RenderUtf8();
        }

        // The machine may be shared: its load goes into the section, beside numbers it may have stretched.
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        var times = new List<double>(runs);
        var size = 0;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < runs; i++)
        {
            hypervisor.Tick();
            var clock = Stopwatch.StartNew();
            size = registry.RenderUtf8().Length;
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        var cpuPerPass = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / runs;
        times.Sort();
        var p50 = times[times.Count / 2];
        var p95 = times[(int)(times.Count * 0.95)];
        var lines = Encoding.UTF8.GetString(registry.RenderUtf8()).Count(c => c == '\n');
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workspaces} workspaces: render p50 {p50:0.00} ms, p95 {p95:0.00} ms, {size / 1024.0:0.0} KiB, {lines} lines, CPU {cpuPerPass:0.00} ms per pass"));
        return string.Create(CultureInfo.InvariantCulture, $"""
            The agent's `/metrics` body with {workspaces} workspaces, rendered {runs} times (after 50 warm-up renders) through the real
            registry, families, renderer and `WorkspaceStatsCollector`, fed synthetic bulk stats: 2 vCPUs, 1 NIC and 2 disks per
            workspace, the fields the QEMU driver's `virConnectGetAllDomainStats` gives. No libvirt call is timed: the bulk stats
            call itself is libvirt's and QEMU's cost, outside this number. Target: render ≤ {TargetMs} ms.

            | workspaces | render p50 | render p95 | body | lines | CPU per collection pass |
            |---:|---:|---:|---:|---:|---:|
            | {workspaces} | {p50:0.00} ms | {p95:0.00} ms | {size / 1024.0:0.0} KiB | {lines} | {cpuPerPass:0.00} ms |

            CPU per pass is the process's CPU time over the timed renders divided by their number: collection (mapping every
            workspace's fields to samples) plus rendering, garbage collection included. {(p95 <= TargetMs ? "Within" : "Over")} the target.
            Load average when the timed renders began: {load} (on {Environment.ProcessorCount} cores).
            """);
    }

    /// <summary>Only the bulk stats call is answered; the benchmark calls nothing else.</summary>
    private sealed class SyntheticHypervisor(int count) : IHypervisor
    {
        private long _tick;

        public string Uri => "synthetic:///";

        public string DomainType => "kvm";

        public string Architecture => "x86_64";

        public string? Unavailable => null;

        public static string Id(int i) => string.Create(CultureInfo.InvariantCulture, $"ws-{i:x4}-0000-4000-8000-00000000{i:x4}");

        public void Tick() => _tick++;

        public IReadOnlyList<DomainStats> GetAllDomainStats(string namePrefix) => [.. Enumerable.Range(0, count).Select(i =>
        {
            var t = _tick * 1_000_000.0 + i;
            var fields = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["state.state"] = 1, ["state.reason"] = 1, ["cpu.time"] = t * 1000, ["cpu.user"] = t * 600, ["cpu.system"] = t * 300,
                ["balloon.current"] = 1 << 20, ["balloon.maximum"] = 1 << 20, ["balloon.rss"] = 400_000,
                ["vcpu.current"] = 2, ["vcpu.maximum"] = 2, ["vcpu.0.state"] = 1, ["vcpu.0.time"] = t * 450, ["vcpu.1.state"] = 1, ["vcpu.1.time"] = t * 440,
                ["net.count"] = 1, ["net.0.rx.bytes"] = t * 10, ["net.0.rx.pkts"] = t, ["net.0.tx.bytes"] = t * 5, ["net.0.tx.pkts"] = t / 2,
                ["net.0.rx.errs"] = 0, ["net.0.rx.drop"] = 0, ["net.0.tx.errs"] = 0, ["net.0.tx.drop"] = 0,
                ["block.count"] = 2, ["block.0.rd.bytes"] = t * 4096, ["block.0.rd.reqs"] = t, ["block.0.wr.bytes"] = t * 8192, ["block.0.wr.reqs"] = t * 2,
                ["block.1.rd.bytes"] = t * 512, ["block.1.rd.reqs"] = t, ["block.1.wr.bytes"] = 0, ["block.1.wr.reqs"] = 0,
                ["block.0.capacity"] = 20L << 30, ["block.1.capacity"] = 1L << 20,
            };
            fields["vcpu.count"] = 2;
            return new DomainStats(DomainNames.For(Id(i)), fields);
        })];

        public IReadOnlyList<DomainInfo> ListDomains() => [];

        public DomainInfo? FindDomain(string name) => null;

        public void Define(string xml) => throw new NotSupportedException();

        public void Start(string name) => throw new NotSupportedException();

        public void Shutdown(string name) => throw new NotSupportedException();

        public void Destroy(string name) => throw new NotSupportedException();

        public void Pause(string name) => throw new NotSupportedException();

        public void Unpause(string name) => throw new NotSupportedException();

        public string? GetMetadata(string name, string uri) => null;

        public void SetMetadata(string name, string uri, string prefix, string element) => throw new NotSupportedException();

        public void Undefine(string name) => throw new NotSupportedException();

        public string GetXml(string name) => throw new NotSupportedException();

        public IDisposable WatchLifecycle(Action<DomainEvent> handler) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
