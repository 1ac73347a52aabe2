using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>
/// Neither daemon watches its working directory for configuration files it does not read. Under systemd that
/// directory is the state directory: the scheduler's database and the agent's disks are written there, and a
/// recursive watch there costs an inotify watch per directory and a wake-up (and a thread-pool item) per write.
/// </summary>
public sealed class WorkingDirectoryWatchTests
{
    [Fact(Timeout = 30_000)]
    public async Task Scheduler_Built_NoConfigurationSourceReloadsOnChange()
    {
        using var directory = new TempDirectory();
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:0")],
            ImageListen = null,
            DatabasePath = Path.Combine(directory.Path, "scheduler.db"),
        };

        await using var app = SchedulerApp.Build(options, logging => logging.ClearProviders());

        Assert.Empty(Watching(app.Services));
    }

    [Fact]
    public void Agent_Built_NoConfigurationSourceReloadsOnChange()
    {
        using var state = new TempDirectory();
        var options = new AgentOptions { StateDirectory = state.Path, LibvirtUri = "test:///default", HostId = "watch-test" };

        using var agent = AgentApp.Build(options, () => LibvirtHypervisor.Open("test:///default"), logging => logging.ClearProviders());

        Assert.Empty(Watching(agent.Services));
    }

    /// <summary>The file sources that would reload on a change: each one watches its directory.</summary>
    private static List<string> Watching(IServiceProvider services) =>
        ((IConfigurationRoot)services.GetRequiredService<IConfiguration>()).Providers
            .OfType<FileConfigurationProvider>()
            .Where(p => p.Source.ReloadOnChange)
            .Select(p => p.Source.Path ?? "?")
            .ToList();
}
