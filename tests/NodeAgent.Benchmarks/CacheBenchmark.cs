using System.Diagnostics;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Lease-to-running with the image not yet on the host (the agent fetches it from the scheduler's repository
/// over HTTP and verifies its sha256 first) and with it cached. Each run uses a fresh image: the test guest's
/// disk grown to 1 GiB with <see cref="DataBytes"/> of data written into it with a pattern of its own, so its
/// digest is new and no host has it.
/// </summary>
internal static class CacheBenchmark
{
    public const long DataBytes = 256L << 20;

    public static async Task<(List<double> Cold, List<double> Warm, long ImageBytes)> RunAsync(string work, string guest, string ws, string address, int runs)
    {
        var cold = new List<double>();
        var warm = new List<double>();
        long imageBytes = 0;
        for (var i = 0; i < runs; i++)
        {
            var name = $"bench-cold-{i}";
            var disk = Path.Combine(work, name + ".qcow2");
            File.Copy(Path.Combine(guest, "disk.qcow2"), disk);
            await RunAsync("qemu-img", "resize", "-q", disk, "1G");
            await RunAsync("qemu-io", "-c", $"write -P {i + 1} 64M {DataBytes}", disk);
            imageBytes = new FileInfo(disk).Length;
            await LeaseBenchmark.RunAsync(ws, address, "image", "add", name, "--file", disk, "--kernel", "nodeagent-test-guest-kernel",
                "--initrd", "nodeagent-test-guest-initrd", "--cmdline", File.ReadAllText(Path.Combine(guest, "cmdline")).Trim());
            File.Delete(disk);
            cold.Add(await LeaseAndReleaseAsync(ws, address, name));
            warm.Add(await LeaseAndReleaseAsync(ws, address, name));
        }

        return (cold, warm, imageBytes);
    }

    public static string Table(List<double> cold, List<double> warm, long imageBytes) => $"""
        | `ws lease` launched → returns with the workspace running ({cold.Count} images) | min | p50 | max |
        |---|---:|---:|---:|
        | image not cached on the host: fetched over HTTP from the scheduler's repository, sha256 verified, then overlay + define + start | {cold.Min():0} ms | {LeaseBenchmark.Median(cold):0} ms | {cold.Max():0} ms |
        | the same image again, now cached | {warm.Min():0} ms | {LeaseBenchmark.Median(warm):0} ms | {warm.Max():0} ms |

        Image: the test guest's disk grown to 1 GiB with {DataBytes >> 20} MiB written into it, a {imageBytes / (1 << 20)} MiB qcow2 file
        (its kernel and initrd, 10 MiB together, are cached from the first lease on). Repository and host are on this
        machine, so the fetch runs at loopback speed: on a network, add the file's size over the link's throughput.
        """;

    private static async Task<double> LeaseAndReleaseAsync(string ws, string address, string image)
    {
        var clock = Stopwatch.StartNew();
        var output = await LeaseBenchmark.RunAsync(ws, address, "lease", "--image", image, "--memory", "256M", "--duration", "10m", "-o", "json");
        var elapsed = clock.Elapsed.TotalMilliseconds;
        await LeaseBenchmark.RunAsync(ws, address, "release", LeaseBenchmark.IdPattern().Match(output).Groups[1].Value, "-o", "json");
        return elapsed;
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {await error}");
        }
    }
}
