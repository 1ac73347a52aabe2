using System.Diagnostics;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// A one-host NodeAgent cloud for real: real libvirtd and QEMU, the scheduler and the agent as separate
/// processes, and ws run as a user runs it, with the test guest (tests/guest) as the image. Disposing it
/// stops both daemons and removes whatever domains of its own a failed test left in libvirt.
/// </summary>
internal sealed class RealCluster : IAsyncDisposable
{
    public const string Image = "nodeagent-test-guest";

    private readonly TempDirectory _dir = new();
    private ChildProcess? _scheduler;
    private string[] _agentArguments = [];

    public string HostId { get; } = "e2e-" + Guid.NewGuid().ToString("N")[..8];

    public string Address { get; private set; } = string.Empty;

    public ChildProcess? Agent { get; private set; }

    public string AgentState => Path.Combine(_dir.Path, "agent");

    /// <summary>The agent's image cache: STATE/images.</summary>
    public string ImageCache => Path.Combine(AgentState, "images");

    /// <summary>Where the scheduler keeps uploaded images.</summary>
    public string RepositoryDirectory => Path.Combine(_dir.Path, "repository");

    /// <summary>The built test guest: disk.qcow2, vmlinuz, initrd.img, cmdline.</summary>
    public string GuestDirectory { get; private set; } = string.Empty;

    public string WorkspaceDirectory(string id) => Path.Combine(AgentState, "workspaces", id);

    public string ConsolePath(string id) => Path.Combine(WorkspaceDirectory(id), "console.log");

    /// <param name="schedulerArguments">Added to the scheduler's command line (e.g. its networks).</param>
    /// <param name="agentArguments">Added to every agent's command line (e.g. its networks).</param>
    public static async Task<RealCluster> StartAsync(string[]? schedulerArguments = null, string[]? agentArguments = null)
    {
        var cluster = new RealCluster { _agentArguments = agentArguments ?? [] };
        try
        {
            // Both scripts are idempotent and quick when there is nothing to do; `make test` has run them already.
            await Repository.RunScriptAsync("tests/setup/start-libvirtd.sh", TimeSpan.FromMinutes(5));
            cluster.GuestDirectory = await Repository.RunScriptAsync("tests/guest/build-guest.sh", TimeSpan.FromMinutes(10));
            cluster._scheduler = ChildProcess.Start(Repository.ProgramPath("scheduler/NodeAgent.Scheduler", "nodeagent-scheduler"),
                ["--listen", "http://127.0.0.1:0", "--auth", "none", "--database", Path.Combine(cluster._dir.Path, "scheduler.db"), "--heartbeat-interval", "00:00:01", "--heartbeat-ttl", "00:00:05",
                 "--image-listen", "http://127.0.0.1:0", "--image-repository", cluster.RepositoryDirectory, .. schedulerArguments ?? []]);
            cluster.Address = (await cluster._scheduler.WaitForLineAsync("nodeagent-scheduler listening on", TimeSpan.FromSeconds(30))).Split(' ')[^1];
            await cluster.RegisterGuestAsync();
            await cluster.StartAgentAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the agent (after the previous one has exited) and waits until it has registered.</summary>
    public async Task StartAgentAsync(IDictionary<string, string>? environment = null, params string[] extraArguments)
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        Agent = ChildProcess.Start(Repository.ProgramPath("agent/NodeAgent.Agent", "nodeagent"),
            ["--scheduler", Address, "--state-directory", AgentState, "--host-id", HostId, "--metrics-listen", "none",
             "--libvirt-uri", "qemu:///system", "--reconcile-interval", "01:00:00", .. _agentArguments, .. extraArguments],
            environment);
        await Agent.WaitForLineAsync($"Registered as host {HostId}", TimeSpan.FromSeconds(30));
    }

    /// <summary>Adds the test guest (disk, kernel, initrd) to the catalogue, uploaded into the scheduler's repository, as a user with ws would.</summary>
    public async Task RegisterGuestAsync()
    {
        var (code, stdout, stderr) = await WsAsync("image", "add", Image + "-kernel", "--format", "kernel", "--file", Path.Combine(GuestDirectory, "vmlinuz"));
        if (code == 0)
        {
            (code, stdout, stderr) = await WsAsync("image", "add", Image + "-initrd", "--format", "initrd", "--file", Path.Combine(GuestDirectory, "initrd.img"));
        }

        if (code == 0)
        {
            (code, stdout, stderr) = await WsAsync("image", "add", Image, "--file", Path.Combine(GuestDirectory, "disk.qcow2"), "--kernel", Image + "-kernel",
                "--initrd", Image + "-initrd", "--cmdline", (await File.ReadAllTextAsync(Path.Combine(GuestDirectory, "cmdline"))).Trim());
        }

        if (code != 0)
        {
            throw new InvalidOperationException($"registering the test guest failed ({code}): {stdout}{stderr}");
        }
    }

    public async Task<(int ExitCode, string Stdout, string Stderr)> WsAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["WS_SCHEDULER"] = Address;
        start.Environment["USER"] = "e2e";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public static async Task<string> WaitForConsoleAsync(string path, string marker, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        var text = string.Empty;
        while (watch.Elapsed < timeout)
        {
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                text = await new StreamReader(stream).ReadToEndAsync();
                if (text.Contains(marker, StringComparison.Ordinal))
                {
                    return text;
                }
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{marker} did not appear on the serial console within {timeout.TotalSeconds:0} s. Console so far:\n{text}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        if (_scheduler is not null)
        {
            await _scheduler.DisposeAsync();
        }

        // Whatever a failed run left behind in libvirt is removed, so the next run starts clean.
        using var libvirt = LibvirtHypervisor.Open("qemu:///system");
        foreach (var domain in libvirt.ListDomains().Where(d => d.Name.StartsWith("nodeagent-", StringComparison.Ordinal)))
        {
            if (libvirt.GetXml(domain.Name).Contains(_dir.Path, StringComparison.Ordinal))
            {
                libvirt.Destroy(domain.Name);
                libvirt.Undefine(domain.Name);
            }
        }

        _dir.Dispose();
    }
}
