using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// The walking skeleton for real, on a <see cref="RealCluster"/>. The test guest (tests/guest) prints a marker on its serial console once
/// it has booted and read its disk through the workspace's overlay.
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class RealGuestTests : IAsyncLifetime
{
    private const string Image = RealCluster.Image;
    private RealCluster _cluster = null!;

    private string AgentState => _cluster.AgentState;

    private string _hostId => _cluster.HostId;

    private ChildProcess? _agent => _cluster.Agent;

    public async Task InitializeAsync() => _cluster = await RealCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private Task<(int ExitCode, string Stdout, string Stderr)> WsAsync(params string[] arguments) => _cluster.WsAsync(arguments);

    private static Task<string> WaitForConsoleAsync(string path, string marker, TimeSpan timeout) => RealCluster.WaitForConsoleAsync(path, marker, timeout);

    [Fact(Timeout = 300_000)]
    public async Task Lease_BootListRelease_GuestBootsThenNothingIsLeft()
    {
        var lease = await WsAsync("lease", "--image", Image, "--cpus", "1", "--memory", "256M", "--disk", "1G", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, $"ws lease exited {lease.ExitCode}: {lease.Stderr}\nagent:\n{_agent!.Output}");
        using var leased = JsonDocument.Parse(lease.Stdout);
        var id = leased.RootElement.GetProperty("id").GetString()!;
        Assert.Equal("LEASE_STATE_RUNNING", leased.RootElement.GetProperty("state").GetString());
        Assert.Equal(_hostId, leased.RootElement.GetProperty("hostId").GetString());
        Assert.Contains("running", lease.Stderr, StringComparison.Ordinal);

        var console = await WaitForConsoleAsync(Path.Combine(AgentState, "workspaces", id, "console.log"), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        Assert.Contains($"NODEAGENT-GUEST: disk vda {1L << 30}", console, StringComparison.Ordinal);
        Assert.Contains("NODEAGENT-GUEST: base NODEAGENT-BASE-IMAGE v1", console, StringComparison.Ordinal);

        var list = await WsAsync("list");
        Assert.Equal(0, list.ExitCode);
        Assert.Matches($@"{id}\s+running\s+running\s+{_hostId}\s+-\s+{Image}", list.Stdout);
        var show = await WsAsync("show", id);
        Assert.Contains("State:     running", show.Stdout, StringComparison.Ordinal);

        var release = await WsAsync("release", id, "-o", "json");
        Assert.True(release.ExitCode == 0, release.Stderr);
        using var released = JsonDocument.Parse(release.Stdout);
        Assert.Equal("LEASE_STATE_ENDED", released.RootElement.GetProperty("state").GetString());

        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        Assert.Null(libvirt.FindDomain("nodeagent-" + id));
        Assert.False(Directory.Exists(Path.Combine(AgentState, "workspaces", id)), "the workspace's overlay and console log are removed");
        Assert.DoesNotContain(id, (await WsAsync("list")).Stdout, StringComparison.Ordinal);
    }

    [Theory(Timeout = 300_000)]
    [InlineData("TERM")]
    [InlineData("KILL")]
    public async Task AgentStopsAndRestarts_RunningGuestIsAdoptedNotRecreated(string signal)
    {
        var lease = await WsAsync("lease", "--image", Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        var consolePath = Path.Combine(AgentState, "workspaces", id, "console.log");
        await WaitForConsoleAsync(consolePath, "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        var before = libvirt.FindDomain("nodeagent-" + id);

        await _agent!.SignalAndWaitAsync(signal, TimeSpan.FromSeconds(30));
        var whileAgentIsDown = libvirt.FindDomain("nodeagent-" + id);
        await _cluster.StartAgentAsync();
        await _agent!.WaitForLineAsync("Desired set version", TimeSpan.FromSeconds(30));
        await Task.Delay(2000);

        var after = libvirt.FindDomain("nodeagent-" + id);
        Assert.Equal(DomainState.Running, whileAgentIsDown?.State);
        Assert.Equal(before!.Uuid, after?.Uuid);
        Assert.Equal(DomainState.Running, after?.State);
        var console = await File.ReadAllTextAsync(consolePath);
        Assert.Equal(1, console.Split("NODEAGENT-GUEST-READY").Length - 1);
        Assert.Contains("State:     running", (await WsAsync("show", id)).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("removed", _agent.Output, StringComparison.Ordinal);

        Assert.Equal(0, (await WsAsync("release", id)).ExitCode);
        Assert.Null(libvirt.FindDomain("nodeagent-" + id));
    }

    [Fact(Timeout = 300_000)]
    public async Task PowerOperations_StopStartRebootPauseResume_GuestFollowsAndKeepsItsDomain()
    {
        // The test guest ignores ACPI: every stop here ends by the (short) stop timeout's power-off.
        await _cluster.StartAgentAsync(null, "--stop-timeout", "00:00:02");
        var lease = await WsAsync("lease", "--image", Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        var consolePath = Path.Combine(AgentState, "workspaces", id, "console.log");
        await WaitForConsoleAsync(consolePath, "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        var uuid = libvirt.FindDomain("nodeagent-" + id)!.Uuid;

        var stop = await WsAsync("stop", id);
        Assert.True(stop.ExitCode == 0, stop.Stderr + _agent!.Output);
        Assert.True(libvirt.FindDomain("nodeagent-" + id)?.State == DomainState.Shutoff, $"not shut off after ws stop:\n{stop.Stderr}\nagent:\n{_agent.Output}");
        Assert.Contains("did not shut down within the stop timeout", _agent.Output, StringComparison.Ordinal);
        Assert.Contains("State:     stopped", (await WsAsync("show", id)).Stdout, StringComparison.Ordinal);

        var start = await WsAsync("start", id);
        Assert.True(start.ExitCode == 0, start.Stderr);
        await WaitForReadyCountAsync(consolePath, 2);

        var reboot = await WsAsync("reboot", id);
        Assert.True(reboot.ExitCode == 0, reboot.Stderr);
        await WaitForReadyCountAsync(consolePath, 3);
        Assert.Contains("Reboots:", (await WsAsync("show", id)).Stdout, StringComparison.Ordinal);

        Assert.Equal(0, (await WsAsync("pause", id)).ExitCode);
        Assert.Equal(DomainState.Paused, libvirt.FindDomain("nodeagent-" + id)?.State);
        Assert.Equal(0, (await WsAsync("resume", id)).ExitCode);
        Assert.Equal(DomainState.Running, libvirt.FindDomain("nodeagent-" + id)?.State);

        Assert.Equal(uuid, libvirt.FindDomain("nodeagent-" + id)?.Uuid);
        Assert.Equal(0, (await WsAsync("release", id)).ExitCode);
        Assert.Null(libvirt.FindDomain("nodeagent-" + id));
    }

    private static async Task WaitForReadyCountAsync(string consolePath, int boots)
    {
        var waited = Stopwatch.StartNew();
        int count;
        do
        {
            await Task.Delay(200);
            using var stream = new FileStream(consolePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            count = (await new StreamReader(stream).ReadToEndAsync()).Split("NODEAGENT-GUEST-READY").Length - 1;
        }
        while (count < boots && waited.Elapsed < TimeSpan.FromMinutes(3));

        Assert.Equal(boots, count);
    }

    [Fact(Timeout = 300_000)]
    public async Task LibvirtdDiesAndComesBack_HostDegradedMeanwhileThenRecovers_GuestUntouched()
    {
        var lease = await WsAsync("lease", "--image", Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        var consolePath = Path.Combine(AgentState, "workspaces", id, "console.log");
        await WaitForConsoleAsync(consolePath, "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        Guid before;
        using (var libvirt = LibvirtHypervisor.Open("qemu:///system"))
        {
            before = libvirt.FindDomain("nodeagent-" + id)!.Uuid;
        }

        try
        {
            // SIGKILL: libvirtd dies on the spot, the harder case; then wait until it is really gone.
            using (var kill = Process.Start("pkill", ["-KILL", "-x", "libvirtd"])!)
            {
                await kill.WaitForExitAsync();
            }

            for (var i = 0; i < 100 && Process.GetProcessesByName("libvirtd").Length > 0; i++)
            {
                await Task.Delay(100);
            }

            var degraded = await WaitForHostAsync("Health:          degraded");
            var refused = await WsAsync("lease", "--image", Image, "--memory", "256M", "--duration", "10m");

            Assert.Contains("libvirt unavailable", degraded, StringComparison.Ordinal);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("degraded", refused.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await Repository.RunScriptAsync("tests/setup/start-libvirtd.sh", TimeSpan.FromMinutes(2));
        }

        await WaitForHostAsync("Health:          up");
        await _agent!.WaitForLineAsync("Reconnected to libvirt", TimeSpan.FromSeconds(30));
        using (var libvirt = LibvirtHypervisor.Open("qemu:///system"))
        {
            var after = libvirt.FindDomain("nodeagent-" + id);
            Assert.Equal(before, after?.Uuid);
            Assert.Equal(DomainState.Running, after?.State);
        }

        Assert.Equal(1, (await File.ReadAllTextAsync(consolePath)).Split("NODEAGENT-GUEST-READY").Length - 1);
        Assert.Contains("State:     running", (await WsAsync("show", id)).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await WsAsync("release", id)).ExitCode);
    }

    private async Task<string> WaitForHostAsync(string text)
    {
        var waited = Stopwatch.StartNew();
        string shown;
        do
        {
            await Task.Delay(200);
            shown = (await WsAsync("hosts", "show", _hostId)).Stdout;
        }
        while (!shown.Contains(text, StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(60));

        Assert.Contains(text, shown, StringComparison.Ordinal);
        return shown;
    }

    [Fact(Timeout = 300_000)]
    public async Task GuestDestroyedFromOutside_LeaseFailsSayingSoAndTheDomainIsRemoved()
    {
        var lease = await WsAsync("lease", "--image", Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        using var virsh = Process.Start("virsh", ["-c", "qemu:///system", "destroy", "nodeagent-" + id])!;
        await virsh.WaitForExitAsync();
        Assert.Equal(0, virsh.ExitCode);

        string show;
        var waited = Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            show = (await WsAsync("show", id)).Stdout;
        }
        while (!show.Contains("State:     failed", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(20));

        Assert.Contains("State:     failed", show, StringComparison.Ordinal);
        Assert.Contains("destroyed outside NodeAgent", show, StringComparison.Ordinal);
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        for (var i = 0; i < 100 && libvirt.FindDomain("nodeagent-" + id) is not null; i++)
        {
            await Task.Delay(100);
        }

        Assert.Null(libvirt.FindDomain("nodeagent-" + id));
        Assert.False(Directory.Exists(Path.Combine(AgentState, "workspaces", id)));
    }
}

/// <summary>Tests that use the machine's one libvirtd run one at a time.</summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class RealLibvirt
{
    public const string Collection = "real libvirtd";
}
