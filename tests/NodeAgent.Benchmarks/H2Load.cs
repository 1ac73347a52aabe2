using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Sends the timed placements with h2load (nghttp2's HTTP/2 load generator, Debian's nghttp2-client) instead of
/// this process's gRPC client. A gRPC unary call is an HTTP/2 POST of one length-prefixed message, and every bench
/// request is the same message, so h2load can send it from a file. It costs a fraction of the CPU a managed gRPC
/// client spends per call, which matters here: the load generator shares the scheduler's 2 cores.
/// </summary>
/// <remarks>
/// h2load only sees HTTP statuses, and a gRPC error travels in the trailers of a 200 answer, so the caller checks
/// the outcome on the scheduler: its placed counter must have grown by exactly the number of workspaces asked for.
/// </remarks>
internal static class H2Load
{
    public const string Program = "/usr/bin/h2load";

    /// <summary>Whether h2load is installed (make bench-placement installs it).</summary>
    public static bool Installed => File.Exists(Program);

    /// <summary>
    /// Calls <paramref name="method"/> (e.g. <c>/nodeagent.v1.LeaseService/CreateLease</c>) with <paramref name="request"/>
    /// once per entry of <paramref name="latencies"/>, <paramref name="inFlight"/> at a time spread over the schedulers
    /// (one h2load and one connection each), and records each call's time in milliseconds. Returns the calls per
    /// second, from the first call's start to the last one's answer.
    /// </summary>
    public static async Task<double> CallAsync(IReadOnlyList<Uri> schedulers, string method, IMessage request, double[] latencies, int inFlight)
    {
        var work = Directory.CreateTempSubdirectory("nodeagent-bench-h2load-").FullName;
        try
        {
            var body = Path.Combine(work, "request");
            await File.WriteAllBytesAsync(body, Framed(request));
            var runs = schedulers.Select((scheduler, i) =>
            {
                var calls = latencies.Length / schedulers.Count + (i < latencies.Length % schedulers.Count ? 1 : 0);
                return RunAsync(new Uri(scheduler, method), body, Path.Combine(work, $"log-{i}"), calls, Math.Max(1, inFlight / schedulers.Count));
            }).ToArray();
            var logs = await Task.WhenAll(runs);

            var calls = logs.SelectMany(l => l).ToArray();
            if (calls.Length != latencies.Length)
            {
                throw new InvalidOperationException($"h2load logged {calls.Length} calls of {latencies.Length}");
            }

            for (var i = 0; i < calls.Length; i++)
            {
                latencies[i] = calls[i].Microseconds / 1000.0;
            }

            var first = calls.Min(c => c.StartMicroseconds);
            var last = calls.Max(c => c.StartMicroseconds + c.Microseconds);
            return calls.Length / ((last - first) / 1e6);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The gRPC message frame: not compressed (0), the length as 4 bytes big-endian, the message.</summary>
    public static byte[] Framed(IMessage request)
    {
        var message = request.ToByteArray();
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    private static async Task<List<(long StartMicroseconds, long Microseconds)>> RunAsync(Uri target, string body, string log, int calls, int inFlight)
    {
        // One client, one connection, inFlight streams on it: as the gRPC client multiplexes its calls on one connection.
        var info = new ProcessStartInfo(Program, ["-n", calls.ToString(CultureInfo.InvariantCulture), "-c", "1", "-m", inFlight.ToString(CultureInfo.InvariantCulture),
            "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", "--log-file", log, target.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"h2load {target} exited with {process.ExitCode}: {await errors}{await output}");
        }

        // Each line: the call's start in microseconds since the epoch, its HTTP status, and microseconds to its answer.
        var logged = new List<(long, long)>(calls);
        foreach (var line in await File.ReadAllLinesAsync(log))
        {
            var fields = line.Split('\t');
            if (fields[1] != "200")
            {
                throw new InvalidOperationException($"h2load {target}: HTTP status {fields[1]} ({await output})");
            }

            logged.Add((long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[2], CultureInfo.InvariantCulture)));
        }

        return logged;
    }
}
