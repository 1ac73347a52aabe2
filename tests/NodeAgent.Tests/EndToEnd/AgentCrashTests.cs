using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// kill -9 of the agent after every step of creating and of removing a workspace, on real libvirtd and QEMU.
/// The agent kills itself with SIGKILL exactly after the named step (<see cref="CrashAfterStep"/>), which
/// timing from outside could not do; then a new agent starts. After it: one domain, never a second one, no
/// half-made or orphaned domain or disk, and the scheduler's view matches the host's.
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class AgentCrashTests : IAsyncLifetime
{
    private RealCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RealCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Theory(Timeout = 300_000)]
    [InlineData("prepare:disk", "record:removing")]
    [InlineData("prepare:domain", "destroy")]
    [InlineData("start", "cleanup:domain")]
    [InlineData("record:running", "cleanup:disk")]
    public async Task KilledAfterACreateStepAndAfterARemoveStep_RestartFinishesEachWithNothingLeftOver(string createStep, string removeStep)
    {
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        await _cluster.StartAgentAsync(new Dictionary<string, string> { [CrashAfterStep.Variable] = createStep });
        var lease = await _cluster.WsAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m", "--no-wait", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        var domain = DomainNames.For(id);

        await AgentKilledAtAsync(createStep);
        var leftByCrash = libvirt.FindDomain(domain);
        Assert.True(Directory.Exists(_cluster.WorkspaceDirectory(id)), $"after {createStep} the workspace's directory exists");
        await _cluster.StartAgentAsync();
        await WaitForLeaseAsync(id, "running");

        var running = libvirt.FindDomain(domain);
        Assert.Equal(DomainState.Running, running?.State);
        Assert.Single(libvirt.ListDomains(), d => d.Name == domain);
        Assert.Single(Directory.GetDirectories(Path.Combine(_cluster.AgentState, "workspaces")));
        if (leftByCrash is not null)
        {
            // The domain the killed agent defined is the one that runs: resumed, not made again.
            Assert.Equal(leftByCrash.Uuid, running!.Uuid);
        }

        Assert.Equal(WorkspacePhase.Running, WorkspaceMetadata.Parse(libvirt.GetMetadata(domain, WorkspaceMetadata.Namespace))?.Phase);
        await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));

        await _cluster.StartAgentAsync(new Dictionary<string, string> { [CrashAfterStep.Variable] = removeStep });
        Assert.Equal(running!.Uuid, libvirt.FindDomain(domain)?.Uuid);
        Assert.Equal(0, (await _cluster.WsAsync("release", id, "--no-wait")).ExitCode);
        await AgentKilledAtAsync(removeStep);
        await _cluster.StartAgentAsync();
        await WaitForLeaseAsync(id, "ended");

        Assert.Null(libvirt.FindDomain(domain));
        Assert.False(Directory.Exists(_cluster.WorkspaceDirectory(id)), "the workspace's disk and console log are removed");
        Assert.DoesNotContain(id, (await _cluster.WsAsync("list")).Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 300_000)]
    public async Task KilledWhileWaitingForAGuestToShutDown_RestartFinishesTheStop()
    {
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        var lease = await _cluster.WsAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        var uuid = libvirt.FindDomain(DomainNames.For(id))!.Uuid;

        // The test guest ignores ACPI, so only the stop timeout ends its stop: the agent dies while waiting for it.
        await _cluster.StartAgentAsync(new Dictionary<string, string> { [CrashAfterStep.Variable] = "acpi-shutdown" }, "--stop-timeout", "00:00:03");
        Assert.Equal(0, (await _cluster.WsAsync("stop", id, "--no-wait")).ExitCode);
        await AgentKilledAtAsync("acpi-shutdown");
        var stopping = WorkspaceMetadata.Parse(libvirt.GetMetadata(DomainNames.For(id), WorkspaceMetadata.Namespace));
        Assert.Equal(WorkspacePhase.Stopping, stopping?.Phase);
        Assert.Equal(DomainState.Running, libvirt.FindDomain(DomainNames.For(id))?.State);

        await _cluster.StartAgentAsync(null, "--stop-timeout", "00:00:03");
        await WaitForLeaseAsync(id, "stopped");

        var stopped = libvirt.FindDomain(DomainNames.For(id));
        Assert.Equal(DomainState.Shutoff, stopped?.State);
        Assert.Equal(uuid, stopped!.Uuid);
        Assert.Equal(WorkspacePhase.Stopped, WorkspaceMetadata.Parse(libvirt.GetMetadata(DomainNames.For(id), WorkspaceMetadata.Namespace))?.Phase);
        Assert.Equal(0, (await _cluster.WsAsync("release", id)).ExitCode);
        Assert.Null(libvirt.FindDomain(DomainNames.For(id)));
    }

    [Fact(Timeout = 300_000)]
    public async Task SigtermWhileWaitingForAGuestToShutDown_AgentExitsAtOnceAndTheNextOneFinishesTheStop()
    {
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        await _cluster.StartAgentAsync(null, "--stop-timeout", "00:10:00");
        var lease = await _cluster.WsAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr);
        var id = JsonDocument.Parse(lease.Stdout).RootElement.GetProperty("id").GetString()!;
        var domain = DomainNames.For(id);
        Assert.Equal(0, (await _cluster.WsAsync("stop", id, "--no-wait")).ExitCode);
        var waited = Stopwatch.StartNew();
        while (WorkspaceMetadata.Parse(libvirt.GetMetadata(domain, WorkspaceMetadata.Namespace))?.Phase != WorkspacePhase.Stopping && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        // The guest ignores ACPI and the stop timeout is 10 minutes: the agent must abandon that wait, not sit it out.
        await _cluster.Agent!.SignalAndWaitAsync("TERM", TimeSpan.FromSeconds(30));
        Assert.Equal(DomainState.Running, libvirt.FindDomain(domain)?.State);
        Assert.Equal(WorkspacePhase.Stopping, WorkspaceMetadata.Parse(libvirt.GetMetadata(domain, WorkspaceMetadata.Namespace))?.Phase);

        await _cluster.StartAgentAsync(null, "--stop-timeout", "00:00:02");
        await WaitForLeaseAsync(id, "stopped");
        Assert.Equal(DomainState.Shutoff, libvirt.FindDomain(domain)?.State);
        Assert.Equal(0, (await _cluster.WsAsync("release", id)).ExitCode);
    }

    private async Task AgentKilledAtAsync(string step)
    {
        var exit = await _cluster.Agent!.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 137 || exit == -1 || _cluster.Agent.Output.Contains("killing the agent with SIGKILL", StringComparison.Ordinal),
            $"the agent exited {exit} instead of being killed after {step}:\n{_cluster.Agent.Output}");
        Assert.Contains($"{CrashAfterStep.Variable}={step}", _cluster.Agent.Output, StringComparison.Ordinal);
    }

    private async Task WaitForLeaseAsync(string id, string state)
    {
        var waited = Stopwatch.StartNew();
        string shown;
        do
        {
            await Task.Delay(200);
            shown = (await _cluster.WsAsync("show", id)).Stdout;
        }
        while (!shown.Contains($"State:     {state}", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(90));

        Assert.True(shown.Contains($"State:     {state}", StringComparison.Ordinal), $"lease {id} is not {state}:\n{shown}\nagent:\n{_cluster.Agent!.Output}");
    }
}
