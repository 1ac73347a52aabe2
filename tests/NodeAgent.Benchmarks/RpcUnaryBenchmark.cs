using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Unary calls per second over one HTTP/2 connection with a fixed number of calls in flight. The server is
/// a separate process (this program in serve mode) so client and server compete for the cores as they would.
/// </summary>
public static class RpcUnaryBenchmark
{
    private static readonly Method<GetHostRequest, Host> Echo = Method.Unary("nodeagent.bench.Echo", "Unary", GetHostRequest.Parser, Host.Parser);

    public static async Task ServeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ConfigureRpcLimits();
            k.ListenRpc(RpcListenAddress.Parse("http://127.0.0.1:0"));
        });
        var app = builder.Build();
        var reply = new Host { Info = new HostInfo { HostId = "bench", Hostname = "bench.example", Architecture = "x86_64", DomainType = "kvm" } };
        var connections = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        var registry = new RpcServiceRegistry().AddUnary(Echo, (request, context) =>
        {
            connections.TryAdd(context.HttpContext.Connection.Id, true);
            return Task.FromResult(reply);
        });
        app.Run(new RpcServer(registry, new RpcServerOptions(), NullLogger<RpcServer>.Instance).HandleAsync);
        await app.StartAsync();
        var address = app.Urls.Count > 0 ? app.Urls.First() : throw new InvalidOperationException("no address");
        Console.WriteLine("LISTENING " + address);
        await Console.In.ReadToEndAsync();
        Console.WriteLine("CONNECTIONS " + connections.Count);
        await app.StopAsync();
    }

    public static async Task<string> RunAsync(int inFlight, TimeSpan warmup, TimeSpan duration, int runs)
    {
        var rows = new List<(double Rate, string Row)>();
        for (var run = 1; run <= runs; run++)
        {
            var (rate, row) = await RunOnceAsync(inFlight, warmup, duration);
            Console.WriteLine($"run {run}/{runs}: {row}");
            rows.Add((rate, $"| {run} {row}"));
        }

        var median = rows.Select(r => r.Rate).Order().ElementAt(rows.Count / 2);
        Console.WriteLine($"median: {median:0} calls/s with {inFlight} calls in flight");
        return $"""
            | run | calls in flight | connections | duration | calls | calls/s | p50 latency | p99 latency |
            |---:|---:|---:|---:|---:|---:|---:|---:|
            {string.Join("\n", rows.Select(r => r.Row))}

            Median of {runs} runs: **{median:0} calls/s**. Each run starts a fresh server process and warms up for {warmup.TotalSeconds:0} s.
            Client: `RpcChannel` (SocketsHttpHandler, h2c). Server: `RpcServer` on Kestrel in a second process,
            which counts the distinct connections the calls arrived on (the connections column).
            Request 8 bytes, response 46 bytes. Both processes run JIT-compiled on the installed .NET runtime.
            """;
    }

    private static async Task<(double Rate, string Row)> RunOnceAsync(int inFlight, TimeSpan warmup, TimeSpan duration)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true };
        if (self.EndsWith("dotnet", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        }

        start.ArgumentList.Add("serve-rpc");
        using var server = Process.Start(start)!;
        try
        {
            var line = await server.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the benchmark server did not start");
            using var channel = new RpcChannel(new Uri(line["LISTENING ".Length..]));
            var request = new GetHostRequest { HostId = "bench" };
            await RunLoadAsync(channel, request, inFlight, warmup);
            var (calls, latencies, elapsed) = await RunLoadAsync(channel, request, inFlight, duration);
            latencies.Sort();
            server.StandardInput.Close();
            var connections = (await server.StandardOutput.ReadLineAsync())?["CONNECTIONS ".Length..] ?? "?";
            var rate = calls / elapsed.TotalSeconds;
            return (rate, $"| {inFlight} | {connections} | {elapsed.TotalSeconds:0.0} s | {calls} | {rate:0} | {Percentile(latencies, 0.50):0.000} ms | {Percentile(latencies, 0.99):0.000} ms |");
        }
        finally
        {
            server.StandardInput.Close();
            if (!server.WaitForExit(5000))
            {
                server.Kill();
            }
        }
    }

    private static async Task<(long Calls, List<double> LatenciesMs, TimeSpan Elapsed)> RunLoadAsync(RpcChannel channel, GetHostRequest request, int inFlight, TimeSpan duration)
    {
        var stopwatch = Stopwatch.StartNew();
        var until = duration;
        var perWorker = new List<double>[inFlight];
        var workers = Enumerable.Range(0, inFlight).Select(i => Task.Run(async () =>
        {
            var mine = perWorker[i] = new List<double>(1 << 16);
            while (stopwatch.Elapsed < until)
            {
                var started = Stopwatch.GetTimestamp();
                var reply = await channel.UnaryAsync(Echo, request);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (reply.Info.HostId != "bench")
                {
                    throw new RpcException(StatusCode.Internal, "wrong reply");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var elapsed = stopwatch.Elapsed;
        var all = perWorker.SelectMany(l => l).ToList();
        return (all.Count, all, elapsed);
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
