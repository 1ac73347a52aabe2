using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// A workspace's limits as the host's kernel enforces them, read back from the real cgroup (v1 on this machine)
/// of its QEMU process and from QEMU's own I/O throttling. The hard memory limit is not started here: libvirt
/// raises QEMU's RLIMIT_MEMLOCK to the hard limit, which this machine's container forbids (no CAP_SYS_RESOURCE),
/// so such a domain fails to start with "cannot limit locked memory"; its XML is checked on the test driver
/// (DomainTuningTests).
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class LimitsGuestTests : IAsyncLifetime
{
    private RealCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RealCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact(Timeout = 300_000)]
    public async Task Lease_CpuWeightCapAndIops_InTheQemuProcesssCgroupsAndThrottle()
    {
        var lease = await _cluster.WsAsync("lease", "--image", RealCluster.Image, "--cpus", "2", "--memory", "256M", "--duration", "10m",
            "--cpu-weight", "512", "--cpu-cap", "50", "--iops", "300", "-o", "json");
        Assert.True(lease.ExitCode == 0, $"ws lease exited {lease.ExitCode}: {lease.Stderr}\nagent:\n{_cluster.Agent!.Output}");
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));

        var pid = File.ReadAllText($"/run/libvirt/qemu/nodeagent-{id}.pid").Trim();
        var cpu = DomainCgroup(pid, "cpu");

        Assert.Equal("512", Read("cpu", cpu, "cpu.shares"));
        foreach (var vcpu in new[] { "vcpu0", "vcpu1" })
        {
            Assert.Equal("100000", Read("cpu", $"{cpu}/{vcpu}", "cpu.cfs_period_us"));
            Assert.Equal("50000", Read("cpu", $"{cpu}/{vcpu}", "cpu.cfs_quota_us"));
        }

        var iotune = await VirshAsync("blkdeviotune", $"nodeagent-{id}", "vda");
        Assert.Matches(@"total_iops_sec\s*:\s*300\b", iotune);
    }

    /// <summary>The domain's cgroup in one v1 controller: QEMU's main thread sits in its "emulator" child.</summary>
    private static string DomainCgroup(string pid, string controller)
    {
        var line = File.ReadAllLines($"/proc/{pid}/cgroup").Single(l => l.Split(':')[1].Split(',').Contains(controller));
        var path = line.Split(':', 3)[2];
        return path.EndsWith("/emulator", StringComparison.Ordinal) ? path[..^"/emulator".Length] : path;
    }

    private static string Read(string controller, string cgroup, string file) => File.ReadAllText($"/sys/fs/cgroup/{controller}{cgroup}/{file}").Trim();

    private static async Task<string> VirshAsync(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("virsh", ["-c", "qemu:///system", .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }
}
