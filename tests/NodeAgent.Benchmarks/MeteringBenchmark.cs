using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Benchmarks;

/// <summary>
/// The cost of one metering pass: <see cref="UsageSampler.SampleOnce"/> over the agent's real <see cref="UsageProbe"/>,
/// <see cref="CgroupCpu"/> and <see cref="UsageJournal"/> (fsynced entries on disk), with 100 nodeagent domains defined
/// and running on libvirt's in-process test:///default driver. Per pass: the process CPU time it took (getrusage, so
/// every thread and the garbage collector count), wall time, managed bytes allocated and the journal bytes it added.
/// </summary>
public static class MeteringBenchmark
{
    private const string HostId = "bench-host";
    private static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    public static string Run(int workspaces, int passes, int warmup)
    {
        var ids = Enumerable.Range(0, workspaces).Select(Id).ToList();
        var state = Directory.CreateTempSubdirectory("nodeagent-bench-metering-");
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        try
        {
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
            {
                Define(libvirt, id, $"user{i % 10}");
            }

            // As on a QEMU host: a pid file per domain (naming this process), so every domain's cgroup is read in full:
            // the pid file, /proc/PID/cgroup, and the cgroup's CPU counter under /sys/fs/cgroup.
            var run = Directory.CreateDirectory(Path.Combine(state.FullName, "run"));
            foreach (var id in ids)
            {
                File.WriteAllText(Path.Combine(run.FullName, DomainNames.For(id) + ".pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            }

            using var wired = new Setup(
                // As AgentApp wires it: on the test driver there is no QEMU pid file, so each domain's cgroup read ends
                // at the missing /run/libvirt/qemu/DOMAIN.pid and its CPU seconds are libvirt's cpu.time.
                "as AgentApp wires it (no QEMU pid files on the test driver)", libvirt, new CgroupCpu(), Path.Combine(state.FullName, "wired"), passes);
            using var withCgroups = new Setup(
                "with a pid file per domain: cgroup read in full", libvirt, new CgroupCpu(pidDirectory: run.FullName), Path.Combine(state.FullName, "cgroups"), passes);
            Setup[] setups = [wired, withCgroups];

            // Warm-up, not counted: JIT, libvirt's first calls, and each journal's first sample (baselines only, no records).
            for (var i = 0; i < warmup; i++)
            {
                Array.ForEach(setups, s => s.Pass(timed: false));
            }

            // The setups take turns pass by pass, so warm-up left over and the load of a shared machine fall on both alike.
            var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            for (var i = 0; i < passes; i++)
            {
                Array.ForEach(setups, s => s.Pass(timed: true));
            }

            return Report(workspaces, passes, warmup, state.FullName, load, setups);
        }
        finally
        {
            foreach (var id in ids)
            {
                Remove(libvirt, DomainNames.For(id));
            }

            state.Delete(recursive: true);
        }
    }

    /// <summary>One way of wiring the sampler, with its own journal and clock, and what its timed passes measured.</summary>
    private sealed class Setup : IDisposable
    {
        private readonly StepClock _clock = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
        private readonly UsageJournal _journal;
        private readonly UsageSampler _sampler;
        private readonly FileInfo _file;

        public Setup(string name, LibvirtHypervisor libvirt, CgroupCpu cgroups, string directory, int passes)
        {
            Name = name;
            Stats = new PassStats(passes);
            _journal = UsageJournal.Open(directory);
            _sampler = new UsageSampler(new UsageProbe(libvirt, cgroups, HostId), _journal, HostId, Period, _clock, NullLogger<UsageSampler>.Instance);
            _file = new FileInfo(Path.Combine(directory, UsageJournal.FileName));
        }

        public string Name { get; }

        public PassStats Stats { get; }

        /// <summary>One period on, one pass; measured when <paramref name="timed"/>.</summary>
        public void Pass(bool timed)
        {
            _clock.Advance(Period);
            if (!timed)
            {
                _ = SampleOnce(_sampler);
                return;
            }

            _file.Refresh();
            var sizeBefore = _file.Length;
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var started = Stopwatch.GetTimestamp();
            var records = SampleOnce(_sampler);
            var wall = Stopwatch.GetElapsedTime(started);
            var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            _file.Refresh();
            Stats.Add(cpu.TotalMilliseconds, wall.TotalMilliseconds, allocated, _file.Length - sizeBefore, records);
        }

        public void Dispose()
        {
            _sampler.Dispose();
            _journal.Dispose();
        }
    }

    /// <summary>One metering pass, as the sampler's timer runs it: the records written.</summary>
    private static int SampleOnce(UsageSampler sampler) => sampler.SampleOnce().Count;

    private static string Report(int workspaces, int passes, int warmup, string directory, string load, IReadOnlyList<Setup> rows)
    {
        var table = new System.Text.StringBuilder()
            .AppendLine("| setup | records per pass | CPU per pass mean | CPU p50 | CPU p95 | wall p50 | wall p95 | allocated per pass | journal bytes per pass |")
            .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, s) in rows.Select(r => (r.Name, r.Stats)))
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {s.RecordsPerPass:0} | {s.CpuMean:0.00} ms | {s.Cpu(0.50):0.00} ms | {s.Cpu(0.95):0.00} ms | {s.Wall(0.50):0.00} ms | {s.Wall(0.95):0.00} ms | {s.AllocatedMean / 1024:0} KiB | {s.JournalMean / 1024:0.0} KiB |");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {s.RecordsPerPass:0} records, CPU mean {s.CpuMean:0.00} ms (p50 {s.Cpu(0.50):0.00}, p95 {s.Cpu(0.95):0.00}), wall p50 {s.Wall(0.50):0.00} ms, p95 {s.Wall(0.95):0.00} ms, {s.AllocatedMean / 1024:0} KiB allocated, journal +{s.JournalMean / 1024:0.0} KiB per pass"));
        }

        var worst = rows.Max(r => r.Stats.CpuMean);
        var filesystem = FileSystemOf(directory);
        return string.Create(CultureInfo.InvariantCulture, $"""
            One metering pass (`UsageSampler.SampleOnce`: the `UsageProbe` bulk stats call and metadata reads, `CgroupCpu`,
            `UsageMeter`, and one fsynced `UsageJournal` entry) with {workspaces} nodeagent domains defined and running on libvirt's
            in-process `test:///default` driver, {passes} timed passes of each setup after {warmup} warm-up passes, the setups taking
            turns pass by pass, the clock one minute on per pass. The journal is never acknowledged here (no shipper), so every
            pass appends to a growing file, as during a scheduler outage; the journal is on {filesystem}.

            {table.ToString().TrimEnd()}

            CPU is the process's CPU time (getrusage, every thread and the garbage collector) over the pass; wall time includes the
            fsync. The test driver answers libvirt calls in process, so a QEMU host adds libvirtd's side of the bulk stats call
            (outside this process) and its IPC. libvirt 9.0's test driver gives only the state group in bulk stats; the agent fills
            cpu.time and balloon from `virDomainGetInfo`, one more call per domain that a QEMU host does not make, and net and block
            counters are 0, so a QEMU host's records are larger by their eight counters (a few dozen bytes each).
            At the default `--usage-period` of one minute, {worst:0.00} ms of CPU per pass is {worst / 600:0.000} % of one core.
            Load average when the timed passes began: {load} (on {Environment.ProcessorCount} cores).
            """);
    }

    private static string FileSystemOf(string path)
    {
        try
        {
            var full = Path.GetFullPath(path);
            var mount = File.ReadAllLines("/proc/mounts")
                .Select(l => l.Split(' '))
                .Where(f => f.Length > 2 && full.StartsWith(f[1].TrimEnd('/') + "/", StringComparison.Ordinal))
                .MaxBy(f => f[1].Length);
            return mount is null ? "an unknown file system" : $"{mount[2]} ({mount[1]})";
        }
        catch (IOException)
        {
            return "an unknown file system";
        }
    }

    /// <summary>Workspace ids as <see cref="MetricsBenchmark"/> makes them.</summary>
    private static string Id(int i) => string.Create(CultureInfo.InvariantCulture, $"ws-{i:x4}-0000-4000-8000-00000000{i:x4}");

    /// <summary>A running test-driver domain (2 vCPUs, 1 GiB) with this host's workspace metadata, as the agent would have defined it.</summary>
    private static void Define(LibvirtHypervisor libvirt, string id, string owner)
    {
        var name = DomainNames.For(id);
        Remove(libvirt, name);
        libvirt.Define($"""
            <domain type='test'>
              <name>{name}</name>
              <memory unit='KiB'>1048576</memory>
              <vcpu>2</vcpu>
              <os><type arch='x86_64'>hvm</type></os>
            </domain>
            """);
        var metadata = new WorkspaceMetadata(id, owner, "debian-12", DateTimeOffset.UtcNow.AddHours(1), WorkspacePhase.Running, Host: HostId);
        libvirt.SetMetadata(name, WorkspaceMetadata.Namespace, WorkspaceMetadata.Prefix, metadata.ToElement());
        libvirt.Start(name);
    }

    /// <summary>Destroys and undefines the domain; nothing when it is not there.</summary>
    private static void Remove(LibvirtHypervisor libvirt, string name)
    {
        libvirt.Destroy(name);
        libvirt.Undefine(name);
    }

    /// <summary>A clock that moves only when told: each pass is one usage period after the previous.</summary>
    private sealed class StepClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }

    /// <summary>What the timed passes of one setup measured.</summary>
    private sealed class PassStats(int capacity)
    {
        private readonly List<double> _cpu = new(capacity);
        private readonly List<double> _wall = new(capacity);
        private long _allocated;
        private long _journal;
        private long _records;

        public double CpuMean => _cpu.Average();

        public double RecordsPerPass => (double)_records / _cpu.Count;

        public double AllocatedMean => (double)_allocated / _cpu.Count;

        public double JournalMean => (double)_journal / _cpu.Count;

        public void Add(double cpuMs, double wallMs, long allocated, long journalBytes, int records)
        {
            _cpu.Add(cpuMs);
            _wall.Add(wallMs);
            _allocated += allocated;
            _journal += journalBytes;
            _records += records;
        }

        public double Cpu(double quantile) => Quantile(_cpu, quantile);

        public double Wall(double quantile) => Quantile(_wall, quantile);

        private static double Quantile(List<double> values, double quantile)
        {
            var sorted = values.Order().ToList();
            return sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * quantile))];
        }
    }
}
