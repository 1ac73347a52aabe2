using System.Globalization;
using System.Text.Json;
using NodeAgent.Tests.Support;
using Xunit.Abstractions;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// Metering accuracy on a real QEMU guest: the guest keeps its vCPU busy for a known time, is released, and the CPU
/// seconds the scheduler then holds for its lease (the agent's periodic samples plus the one taken just before the
/// power-off) must agree with the QEMU process's own accounting in <c>/proc/PID/stat</c> within 2 %.
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class MeteringGuestTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string BurnImage = RealCluster.Image + "-burn";
    private const int BurnSeconds = 15;
    private RealCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RealCluster.StartAsync(agentArguments: ["--usage-period", "00:00:02"]);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact(Timeout = 300_000)]
    public async Task BurningGuest_MeteredCpuSeconds_AgreeWithQemusProcStatWithin2Percent()
    {
        var cmdline = (await File.ReadAllTextAsync(Path.Combine(_cluster.GuestDirectory, "cmdline"))).Trim();
        await Ws("image", "add", BurnImage, "--file", Path.Combine(_cluster.GuestDirectory, "disk.qcow2"), "--kernel", RealCluster.Image + "-kernel",
            "--initrd", RealCluster.Image + "-initrd", "--cmdline", $"{cmdline} nodeagent.burn={BurnSeconds}");
        var lease = await Ws("lease", "--image", BurnImage, "--cpus", "1", "--memory", "256M", "--duration", "10m", "-o", "json");
        var id = JsonDocument.Parse(lease).RootElement.GetProperty("id").GetString()!;
        await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST: burn done", TimeSpan.FromMinutes(3));

        // QEMU's own count (every thread, live and exited), then the release: the agent samples once more before it
        // powers the guest off, so what QEMU used between this reading and the power-off is an idle guest's second or so.
        var pid = int.Parse(File.ReadAllText($"/run/libvirt/qemu/nodeagent-{id}.pid").Trim(), CultureInfo.InvariantCulture);

        // The guest runs in its project's partition (the owner, e2e), which has the default weight.
        var cpuCgroup = File.ReadAllLines($"/proc/{pid}/cgroup").Single(l => l.Split(':')[1] == "cpu").Split(':', 3)[2];
        Assert.StartsWith("/machine/project-e2e.partition/", cpuCgroup, StringComparison.Ordinal);
        Assert.Equal("1024", File.ReadAllText("/sys/fs/cgroup/cpu/machine/project-e2e.partition/cpu.shares").Trim());
        var procSeconds = ProcCpuSeconds(pid);
        await Ws("release", id);

        var metered = await MeteredCpuSecondsAsync(id, procSeconds);
        Assert.True(procSeconds >= BurnSeconds * 0.8, $"QEMU used {procSeconds:0.00} s of CPU, less than the guest's {BurnSeconds} s burn: it did not burn");
        var error = Math.Abs(metered - procSeconds) / procSeconds;
        output.WriteLine($"metered {metered:0.000} s, /proc/{pid}/stat {procSeconds:0.00} s, {error:P2} apart");
        Assert.True(error <= 0.02, $"metered {metered:0.000} CPU seconds, /proc/{pid}/stat says {procSeconds:0.000}: {error:P2} apart (at most 2 %)");
    }

    /// <summary>utime + stime of the whole process, fields 14 and 15 of /proc/PID/stat (after the parenthesised name), in clock ticks.</summary>
    private static double ProcCpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = ulong.Parse(fields[11], CultureInfo.InvariantCulture) + ulong.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

    // USER_HZ: 100 on every Linux architecture this runs on (sysconf(_SC_CLK_TCK)).
    private const int ClockTicksPerSecond = 100;

    /// <summary>
    /// The lease's CPU seconds as the scheduler totals them, once the workspace is gone and its last records have
    /// arrived: read until two readings a few usage periods apart are equal, and the total is not behind QEMU's count.
    /// </summary>
    private async Task<double> MeteredCpuSecondsAsync(string id, double procSeconds)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        double previous = -1;
        while (true)
        {
            var json = await Ws("usage", "--by", "lease", "-o", "json");
            var totals = JsonDocument.Parse(json).RootElement.TryGetProperty("totals", out var t) ? t.EnumerateArray().ToList() : [];
            var total = totals.Where(e => e.GetProperty("key").GetString() == id)
                .Select(e => e.TryGetProperty("cpuSeconds", out var s) ? s.GetDouble() : 0).DefaultIfEmpty(0).Single();
            var gone = !File.Exists($"/run/libvirt/qemu/nodeagent-{id}.pid");
            if ((gone && total == previous && total >= procSeconds * 0.98) || DateTime.UtcNow > deadline)
            {
                return total;
            }

            previous = gone ? total : -1;
            await Task.Delay(TimeSpan.FromSeconds(5));
        }
    }

    private async Task<string> Ws(params string[] arguments)
    {
        var (code, stdout, stderr) = await _cluster.WsAsync(arguments);
        Assert.True(code == 0, $"ws {string.Join(' ', arguments)} exited {code}: {stderr}\nagent:\n{_cluster.Agent!.Output}");
        return stdout;
    }
}
