using System.Text.Json;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// Images and disks on a <see cref="RealCluster"/>: the test guest reaches the host through the scheduler's
/// repository and the agent's cache, boots with a data disk under I/O limits, and a stopped workspace saved as
/// a new image boots again with what its guest wrote. The test guest prints its disks and the mark an earlier
/// boot left on its root disk (tests/guest/init).
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class ImageGuestTests : IAsyncLifetime
{
    private RealCluster _cluster = null!;

    // The test guest ignores ACPI: a stop powers it off after this.
    public async Task InitializeAsync() => _cluster = await RealCluster.StartAsync(agentArguments: ["--stop-timeout", "00:00:02"]);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private async Task<JsonElement> WsJsonAsync(params string[] arguments)
    {
        var run = await _cluster.WsAsync([.. arguments, "-o", "json"]);
        Assert.True(run.ExitCode == 0, $"ws {string.Join(' ', arguments)} exited {run.ExitCode}: {run.Stderr}\nagent:\n{_cluster.Agent!.Output}");
        return JsonDocument.Parse(run.Stdout).RootElement.Clone();
    }

    [Fact(Timeout = 300_000)]
    public async Task Lease_DataDiskAndLimits_GuestSeesTheDiskLibvirtHasTheLimitsAndTheImageIsCachedByDigest()
    {
        var lease = await WsJsonAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m",
            "--data-disk", "32M", "--iops", "400", "--disk-bandwidth", "20M");
        var id = lease.GetProperty("id").GetString()!;
        var digest = lease.GetProperty("imageRef").GetProperty("sha256").GetString()!;

        var console = await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        var xml = libvirt.GetXml("nodeagent-" + id);
        var shown = await WsJsonAsync("show", id);

        Assert.Contains($"NODEAGENT-GUEST: disk vdb {32L << 20}", console, StringComparison.Ordinal);
        Assert.Equal(2, xml.Split("<total_iops_sec>400</total_iops_sec>").Length - 1);
        Assert.Equal(2, xml.Split($"<total_bytes_sec>{20L << 20}</total_bytes_sec>").Length - 1);
        Assert.True(File.Exists(Path.Combine(_cluster.ImageCache, "sha256", digest)), "the disk image is cached under its digest");
        Assert.Contains(Path.Combine(_cluster.ImageCache, "sha256"), xml, StringComparison.Ordinal);
        Assert.Equal((64L << 20) + (32L << 20), long.Parse(shown.GetProperty("diskAllocatedBytes").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(long.Parse(shown.GetProperty("diskUsedBytes").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact(Timeout = 420_000)]
    public async Task Save_StoppedWorkspace_NewImageBootsWithWhatItsGuestWrote()
    {
        var first = (await WsJsonAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m")).GetProperty("id").GetString()!;
        var console = await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(first), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        Assert.Contains("NODEAGENT-GUEST: mark \n", console.Replace("\r", string.Empty), StringComparison.Ordinal);

        await WsJsonAsync("stop", first);
        var saved = await WsJsonAsync("save", first, "--as", "e2e-saved", "--description", "the test guest after one boot");
        var image = await WsJsonAsync("image", "show", "e2e-saved");
        await WsJsonAsync("start", first);
        var second = (await WsJsonAsync("lease", "--image", "e2e-saved", "--memory", "256M", "--duration", "10m")).GetProperty("id").GetString()!;
        var secondConsole = await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(second), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));

        Assert.Equal("SAVE_STATE_SAVED", saved.GetProperty("save").GetProperty("state").GetString());
        Assert.Equal(1, image.GetProperty("version").GetInt32());
        Assert.Equal("e2e", image.GetProperty("owner").GetString());
        Assert.Equal(first, image.GetProperty("savedFromLease").GetString());
        Assert.Equal(RealCluster.Image + "-kernel:1", image.GetProperty("kernel").GetString());
        var digest = image.GetProperty("sha256").GetString()!;
        Assert.True(File.Exists(Path.Combine(_cluster.RepositoryDirectory, "sha256", digest)), "the saved disk is in the scheduler's repository");
        Assert.True(File.Exists(Path.Combine(_cluster.ImageCache, "sha256", digest)), "and in the host's cache, without a download");
        Assert.Contains($"NODEAGENT-GUEST: mark written by {first}", secondConsole, StringComparison.Ordinal);
        Assert.Contains("NODEAGENT-GUEST: base NODEAGENT-BASE-IMAGE v1", secondConsole, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_cluster.WorkspaceDirectory(first), "save-*"));
    }
}
