using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Lease-to-running time on this machine: the scheduler and an agent run as their own processes on real
/// libvirtd + QEMU, and `ws lease` is timed from launch until it returns, which it does once the agent
/// reports the domain running — before the guest's own boot. The agent's share (disk overlay, define,
/// start) comes from its log; release is timed until the lease has ended.
/// </summary>
public static partial class LeaseBenchmark
{
    public static async Task<string> RunAsync(int runs, string configuration)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the lease benchmark needs libvirt and QEMU on Linux");
        }

        var root = FindRoot();
        string Program(string project, string name) => Path.Combine(root, project, "bin", configuration, "net9.0", name);
        await ScriptAsync(root, "tests/setup/start-libvirtd.sh");
        var guest = (await ScriptAsync(root, "tests/guest/build-guest.sh")).Trim().Split('\n')[^1];

        var work = Directory.CreateTempSubdirectory("nodeagent-bench-").FullName;
        File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        using var scheduler = Start(Program("scheduler/NodeAgent.Scheduler", "nodeagent-scheduler"), "--listen", "http://127.0.0.1:0", "--auth", "none", "--database", Path.Combine(work, "s.db"),
            "--image-listen", "http://127.0.0.1:0", "--image-repository", Path.Combine(work, "repository"));
        var address = (await WaitForAsync(scheduler, "listening on")).Split(' ')[^1];
        var ws = Program("scheduler/NodeAgent.Cli", "ws");
        await RegisterGuestAsync(root, ws, address, guest);
        using var agent = Start(Program("agent/NodeAgent.Agent", "nodeagent"), "--scheduler", address, "--state-directory", Path.Combine(work, "agent"),
            "--host-id", "bench-host");
        var domainType = await WaitForAsync(agent, "guests are");
        await WaitForAsync(agent, "Registered as host");
        try
        {
            var lease = new List<double>();
            var release = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                var clock = Stopwatch.StartNew();
                var output = await RunAsync(ws, address, "lease", "--image", "nodeagent-test-guest", "--memory", "256M", "--duration", "10m", "-o", "json");
                lease.Add(clock.Elapsed.TotalMilliseconds);
                var id = IdPattern().Match(output).Groups[1].Value;
                clock.Restart();
                await RunAsync(ws, address, "release", id, "-o", "json");
                release.Add(clock.Elapsed.TotalMilliseconds);
            }

            // A guest that dies outside NodeAgent, two ways. Killed: QEMU gets SIGKILL, as in a crash, and the clock
            // runs from the kill. Destroyed: the clock starts when `virsh destroy` returns, i.e. after libvirt's own
            // teardown, which leaves NodeAgent's share. Both end when the scheduler shows the lease failed (polled
            // every 10 ms over the API).
            var killed = await OutsideStopAsync(ws, address, Math.Min(runs, 5), async id =>
            {
                var qemu = int.Parse(File.ReadAllText($"/run/libvirt/qemu/nodeagent-{id}.pid").Trim(), CultureInfo.InvariantCulture);
                var clock = Stopwatch.StartNew();
                Process.GetProcessById(qemu).Kill();
                await Task.CompletedTask;
                return clock;
            });
            var destroyed = await OutsideStopAsync(ws, address, Math.Min(runs, 5), async id =>
            {
                using var virsh = Process.Start("virsh", ["-c", "qemu:///system", "destroy", "nodeagent-" + id])!;
                await virsh.WaitForExitAsync();
                return Stopwatch.StartNew();
            });

            var (cold, warm, imageBytes) = await CacheBenchmark.RunAsync(work, guest, ws, address, Math.Min(runs, 5));
            var agentMs = AgentTimePattern().Matches(agent.Output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            Console.WriteLine($"ws lease → running: p50 {Median(lease):0} ms; agent prepare+define+start p50 {Median(agentMs):0} ms; release → ended p50 {Median(release):0} ms; killed → reported p50 {Median(killed):0} ms; destroyed → reported p50 {Median(destroyed):0} ms");
            return $"""
                | measure ({runs} leases, one after another) | min | p50 | max |
                |---|---:|---:|---:|
                | `ws lease` launched → returns with the workspace running | {lease.Min():0} ms | {Median(lease):0} ms | {lease.Max():0} ms |
                | agent: disk overlay + define + start (from its log) | {agentMs.DefaultIfEmpty().Min():0} ms | {Median(agentMs):0} ms | {agentMs.DefaultIfEmpty().Max():0} ms |
                | `ws release` launched → returns with the lease ended | {release.Min():0} ms | {Median(release):0} ms | {release.Max():0} ms |
                | guest's QEMU killed (SIGKILL, as in a crash) → scheduler shows the lease failed ({killed.Count} runs) | {killed.Min():0} ms | {Median(killed):0} ms | {killed.Max():0} ms |
                | `virsh destroy` returned (libvirt's teardown done) → scheduler shows the lease failed ({destroyed.Count} runs) | {destroyed.Min():0} ms | {Median(destroyed):0} ms | {destroyed.Max():0} ms |

                Guest: the test guest (1 vCPU, 256 MiB), {domainType.Split("guests are ")[^1]}. The guest's own boot is not
                included: `ws lease` returns when libvirt reports the domain running. Programs: the {configuration} builds,
                JIT-compiled on the installed .NET runtime, so each `ws` run includes its own start-up.
                Release time is mostly libvirt's own teardown of the QEMU process: `virsh destroy` of the same guest,
                timed alone on this machine, took 1.4–1.8 s. The same teardown runs when QEMU dies, before libvirt
                emits the lifecycle event, which is why a crash takes over a second to show while NodeAgent's own share
                (the last row) is a few milliseconds.

                {CacheBenchmark.Table(cold, warm, imageBytes)}
                """;
        }
        finally
        {
            scheduler.Kill(entireProcessTree: true);
            agent.Kill(entireProcessTree: true);
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<List<double>> OutsideStopAsync(string ws, string address, int runs, Func<string, Task<Stopwatch>> stop)
    {
        using var channel = new NodeAgent.Rpc.Client.RpcChannel(new Uri(address));
        var leases = new NodeAgent.Contract.V1.LeaseServiceClient(channel);
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var output = await RunAsync(ws, address, "lease", "--image", "nodeagent-test-guest", "--memory", "256M", "--duration", "10m", "-o", "json");
            var id = IdPattern().Match(output).Groups[1].Value;
            var clock = await stop(id);
            while ((await leases.GetLeaseAsync(new NodeAgent.Contract.V1.GetLeaseRequest { Id = id })).State != NodeAgent.Contract.V1.LeaseState.Failed)
            {
                await Task.Delay(10);
            }

            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        return times;
    }

    internal static double Median(List<double> values) => values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);

    internal static async Task<string> RunAsync(string program, string scheduler, params string[] arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["WS_SCHEDULER"] = scheduler;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"ws {arguments[0]} failed: {await stderr}");
    }

    /// <summary>Adds the test guest to the catalogue, uploading its files to the scheduler's repository (tests/guest/register-guest.sh).</summary>
    private static Task<string> RegisterGuestAsync(string root, string ws, string address, string guest) =>
        ScriptAsync(root, "tests/guest/register-guest.sh", [ws, guest], address);

    internal static async Task<string> ScriptAsync(string root, string script, string[]? arguments = null, string? scheduler = null)
    {
        var start = new ProcessStartInfo(Path.Combine(root, script), arguments ?? []) { RedirectStandardOutput = true };
        if (scheduler is not null)
        {
            start.Environment["WS_SCHEDULER"] = scheduler;
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{script} failed");
    }

    internal static Child Start(string program, params string[] arguments) => new(Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!);

    internal static async Task<string> WaitForAsync(Child child, string text)
    {
        for (var i = 0; i < 600; i++)
        {
            var line = child.Output.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null)
            {
                return line.Trim();
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"'{text}' never appeared:\n{child.Output}");
    }

    internal static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NodeAgent.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("NodeAgent.sln not found");
    }

    [GeneratedRegex("\"id\": \"(w-[a-z0-9]+)\"")]
    internal static partial Regex IdPattern();

    [GeneratedRegex(@"running \([0-9]+ steps in ([0-9.]+) ms\)")]
    private static partial Regex AgentTimePattern();

    /// <summary>A child process whose stdout and stderr are collected as they come.</summary>
    internal sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        public Child(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public int Id => _process.Id;

        public void Kill(bool entireProcessTree) => _process.Kill(entireProcessTree);

        public void Dispose() => _process.Dispose();

        private void Append(string? line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
