using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Start-up to READY of the native-AOT daemons from `make publish`, as systemd sees it: the program is started with
/// $NOTIFY_SOCKET set to a datagram socket of this process, and the clock runs from the start until READY=1 arrives.
/// The scheduler starts on an empty database; the agent on libvirt's test driver, registering with that scheduler.
/// ws has no READY: its figure is one `ws --version` run, start to exit.
/// </summary>
public static class StartupBenchmark
{
    public static async Task<string> RunAsync(string binaries, int runs)
    {
        var work = Directory.CreateTempSubdirectory("nodeagent-bench-startup-").FullName;
        try
        {
            var scheduler = new List<double>();
            var agent = new List<double>();
            var ws = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                var database = Path.Combine(work, $"s{i}.db");
                var (schedulerMs, schedulerProcess) = await UntilReadyAsync(Path.Combine(binaries, "nodeagent-scheduler"), work,
                    "--config", "none", "--listen", "http://127.0.0.1:0", "--auth", "none", "--database", database, "--image-listen", "none");
                scheduler.Add(schedulerMs);
                var address = await AddressAsync(schedulerProcess);
                var (agentMs, agentProcess) = await UntilReadyAsync(Path.Combine(binaries, "nodeagent"), work,
                    "--config", "none", "--scheduler", address, "--libvirt-uri", "test:///default", "--state-directory", Path.Combine(work, $"a{i}"),
                    "--metrics-listen", "none", "--host-id", $"startup-{i}");
                agent.Add(agentMs);
                Stop(agentProcess);
                Stop(schedulerProcess);

                var clock = Stopwatch.StartNew();
                using var version = Process.Start(new ProcessStartInfo(Path.Combine(binaries, "ws"), ["--version"]) { RedirectStandardOutput = true })!;
                await version.WaitForExitAsync();
                ws.Add(clock.Elapsed.TotalMilliseconds);
            }

            string Row(string program, List<double> times, string what)
            {
                times.Sort();
                return string.Create(CultureInfo.InvariantCulture, $"| {program} | {what} | {times[0]:0} ms | {times[times.Count / 2]:0} ms | {times[^1]:0} ms |");
            }

            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            var body = $"""
                | program | measured | min | p50 | max |
                |---|---|---:|---:|---:|
                {Row("nodeagent-scheduler", scheduler, "start → READY=1 (gRPC listening, duties running)")}
                {Row("nodeagent", agent, "start → READY=1 (libvirt test driver connected, registration answered)")}
                {Row("ws", ws, "`ws --version`, start → exit")}

                {runs} runs each, the binaries in `{binaries}` (native AOT from `make publish`), READY=1 read from a
                $NOTIFY_SOCKET datagram socket as systemd would. Load average at the end: {load} on {Environment.ProcessorCount} cores.
                """;
            Console.WriteLine(body);
            return body;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(double Ms, Process Process)> UntilReadyAsync(string program, string work, params string[] arguments)
    {
        var socketPath = Path.Combine(work, "notify-" + Guid.NewGuid().ToString("N")[..8]);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["NOTIFY_SOCKET"] = socketPath;
        var clock = Stopwatch.StartNew();
        var process = Process.Start(start)!;
        var buffer = new byte[4096];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            if (Encoding.UTF8.GetString(buffer, 0, received).Split('\n').Contains("READY=1"))
            {
                return (clock.Elapsed.TotalMilliseconds, process);
            }
        }
    }

    private static async Task<string> AddressAsync(Process scheduler)
    {
        while (await scheduler.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.Contains("listening on", StringComparison.Ordinal))
            {
                return line.Split(' ')[^1];
            }
        }

        throw new InvalidOperationException("the scheduler never said where it listens");
    }

    private static void Stop(Process process)
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}
