using System.Diagnostics;
using System.Runtime.CompilerServices;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Benchmarks;

/// <summary>The placement benchmark's simulated hosts: what they register as, and the heartbeats they send.</summary>
internal static class PlacementHosts
{
    private const string HeartbeatMethod = "/nodeagent.v1.AgentService/Heartbeat";

    /// <summary>
    /// A heartbeat from every host every 5 s (the default interval), until cancelled, spread evenly over the interval
    /// as agents started at different moments are: a fiftieth of the hosts every tenth of a second, 16 at a time. (Sent
    /// all at once at the start of each interval, 10,000 hosts' heartbeats took a second and landed on a timed phase
    /// of half a second, whose CPU per placement they inflated.)
    /// </summary>
    public static async Task KeepAliveAsync(Func<string, AgentServiceClient> agents, string[] ids, StrongBox<long> answered, CancellationToken cancellationToken)
    {
        const int Slices = 50;
        var slice = TimeSpan.FromSeconds(5) / Slices;
        var clock = Stopwatch.StartNew();
        for (long sent = 0; !cancellationToken.IsCancellationRequested; sent++)
        {
            var s = (int)(sent % Slices);
            await PlacementBenchmark.ForAllAsync(ids[(s * ids.Length / Slices)..((s + 1) * ids.Length / Slices)], async id =>
            {
                await agents(id).HeartbeatAsync(Beat(id, 0));
                Interlocked.Increment(ref answered.Value);
            }, inFlight: 16);
            var due = slice * (sent + 1) - clock.Elapsed;
            try
            {
                await Task.Delay(due > TimeSpan.Zero ? due : TimeSpan.Zero, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static HeartbeatRequest Beat(string id, int i) => new()
    {
        HostId = id,
        Capacity = Info(id).Capacity,
        Load = new HostLoad { CpuUtilization = (i % 100) / 100.0, MemoryAvailableBytes = 128UL << 30 },
    };

    /// <summary>
    /// Heartbeats per second and how many, written as HTTP/2 frames (<see cref="RawGrpcCalls"/>) on one connection per
    /// scheduler, 64 in flight in all: the heartbeats of <see cref="HeartbeatsPerSecondAsync"/>, host i to scheduler
    /// i mod N, at a small part of the managed client's CPU per call.
    /// </summary>
    public static async Task<(double PerSecond, long Sent)> RawHeartbeatsPerSecondAsync(IReadOnlyList<Uri> schedulers, string[] ids, TimeSpan window)
    {
        var bodies = ids.Select((id, i) => H2Load.Framed(Beat(id, i))).ToArray();
        var connections = await Task.WhenAll(schedulers.Select(s => RawGrpcCalls.ConnectAsync(s, HeartbeatMethod)));
        try
        {
            var clock = Stopwatch.StartNew();
            var answered = await Task.WhenAll(connections.Select((c, r) =>
            {
                // Host i beats to replica i mod N only: the one it registered with, which knows it at once.
                var own = bodies.Where((_, i) => i % connections.Length == r).ToArray();
                return c.CallForAsync(window, Math.Max(1, PlacementBenchmark.InFlight / connections.Length), k => own[(int)(k % own.Length)]);
            }));
            return (answered.Sum() / clock.Elapsed.TotalSeconds, answered.Sum());
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>Heartbeats sent per second, and how many were sent.</summary>
    public static async Task<(double PerSecond, long Sent)> HeartbeatsPerSecondAsync(Func<string, AgentServiceClient> agents, string[] ids, TimeSpan window)
    {
        long sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, PlacementBenchmark.InFlight).Select(async sender =>
        {
            for (var i = sender; clock.Elapsed < window; i += PlacementBenchmark.InFlight)
            {
                var id = ids[i % ids.Length];
                await agents(id).HeartbeatAsync(Beat(id, i));
                Interlocked.Increment(ref sent);
            }
        }));
        return (sent / clock.Elapsed.TotalSeconds, sent);
    }

    public static HostInfo Info(string id) => new()
    {
        HostId = id,
        Hostname = id + ".bench",
        AgentVersion = "bench",
        Architecture = "x86_64",
        DomainType = "kvm",
        Capacity = new Resources { Vcpus = 256, MemoryBytes = 1UL << 40, DiskBytes = 40UL << 40 },
    };
}
