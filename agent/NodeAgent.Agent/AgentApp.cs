using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Contextualization;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Metrics;
using NodeAgent.Agent.Networking;
using NodeAgent.Agent.Partitions;
using NodeAgent.Agent.Processes;
using NodeAgent.Agent.Reporting;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Service;
using AgentServiceClient = NodeAgent.Contract.V1.AgentServiceClient;

namespace NodeAgent.Agent;

/// <summary>Wires the agent: host facts, the hypervisor, the workspace lifecycle, and the link to the scheduler.</summary>
public static class AgentApp
{
    /// <param name="openLibvirt">Opens a libvirt connection: once at start, and again after libvirtd is lost.</param>
    /// <param name="configureServices">Adds services of the program's own (systemd notifications, reload); runs after the agent's are added.</param>
    public static IHost Build(AgentOptions options, Func<ILibvirtConnection> openLibvirt, Action<ILoggingBuilder>? configureLogging = null, TimeProvider? time = null,
        Action<IServiceCollection>? configureServices = null)
    {
        Directory.CreateDirectory(options.StateDirectory);
        Directory.CreateDirectory(options.WorkspacesPath);
        var id = HostIdentity.LoadOrCreate(options.StateDirectory, options.HostId, Environment.MachineName);
        var probe = new HostProbe(new ProcFileSystem(options.ProcRoot));

        // The agent has no appsettings.json. Without this the host would watch its working directory, recursively, for
        // one to appear: an inotify watch per directory (under systemd that directory is /) and two threads.
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = false, Configuration = configuration });
        configureLogging?.Invoke(builder.Logging);
        var services = builder.Services;
        services.AddSingleton(options);
        // What a reload may change while the agent runs (labels, capacity policy, stop timeout); read at each use.
        services.AddSingleton(new Reloadable<AgentOptions>(options));
        services.AddSingleton<SchedulerConnection>();
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddSingleton(_ => new Random());
        services.AddSingleton(_ => CrashAfterStep.FromEnvironment());
        services.AddSingleton(sp =>
        {
            var backoff = new Backoff(sp.GetRequiredService<Random>(), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
            var hypervisor = new ResilientHypervisor(openLibvirt, backoff.Next, backoff.Reset, sp.GetRequiredService<ILogger<ResilientHypervisor>>());
            var errors = sp.GetRequiredService<AgentMetrics>().LibvirtErrors;
            hypervisor.ErrorObserved = _ => errors.Inc();
            var desired = sp.GetRequiredService<DesiredState>();
            hypervisor.Reconnected += desired.Wake;
            return hypervisor;
        });
        services.AddSingleton<IHypervisor>(sp => sp.GetRequiredService<ResilientHypervisor>());
        services.AddSingleton(probe);
        services.AddSingleton(sp => probe.Describe(id, options.StateDirectory, sp.GetRequiredService<IHypervisor>().DomainType));
        services.AddSingleton(sp =>
        {
            var inventory = new WorkspaceInventory(sp.GetRequiredService<IHypervisor>(), id.Value);
            inventory.Refresh();
            return inventory;
        });
        var token = new AgentTokenFile(options.TokenFile);
        var clientCertificate = options.TlsCertificate is { } certificate ? new CertificateFiles(certificate, options.TlsKey!) : null;
        var authorities = options.CaFile is { } ca ? TlsFiles.LoadAuthorities(ca) : null;
        services.AddSingleton(_ => new RpcChannel(options.Schedulers, new RpcChannelOptions
        {
            HeadersPerCall = token.Headers,
            ClientCertificate = clientCertificate is null ? null : clientCertificate.Current,
            ServerCertificateValidation = authorities is null ? null : TlsFiles.ServerValidator(authorities),
        }));
        services.AddSingleton(sp => new AgentServiceClient(sp.GetRequiredService<RpcChannel>()));
        services.AddSingleton<DesiredState>();
        services.AddSingleton<HeartbeatSource>();
        services.AddSingleton<CommandRunner>();
        services.AddSingleton(sp => new DiskManager(options.WorkspacesPath, sp.GetRequiredService<CommandRunner>()));
        services.AddSingleton(sp => new ImageFetcher(
            ImageFetcher.CreateHttpClient(),
            new ImageFetcherOptions { MaxAttempts = options.ImageFetchAttempts },
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ImageFetcher>>()));
        services.AddSingleton(sp =>
        {
            var disks = sp.GetRequiredService<DiskManager>();
            return new ImageCache(options.ImagesPath, options.ImageCacheBytes, disks.DigestsInUse, sp.GetRequiredService<ImageFetcher>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ImageCache>>());
        });
        services.AddSingleton(_ => new ImageUpload());
        services.AddSingleton<WorkspaceSaver>();
        services.AddSingleton(sp => new WorkspaceLifecycle(
            sp.GetRequiredService<ImageCache>(),
            sp.GetRequiredService<DiskManager>(),
            // Prepared in this order, cleaned up in the reverse: the domain goes before its disk.
            [
                new RootDiskHook(sp.GetRequiredService<DiskManager>()),
                new SeedHook(new SeedImage(sp.GetRequiredService<CommandRunner>()), sp.GetRequiredService<DiskManager>(), SeedHook.ForWorkspace),
                new NetworkHook(sp.GetRequiredService<WorkspaceNetworks>()),
                new DomainHook(sp.GetRequiredService<IHypervisor>(), sp.GetRequiredService<DiskManager>(), sp.GetRequiredService<IWorkspacePartitions>()),
            ],
            sp.GetRequiredService<IFailpoints>(),
            sp.GetRequiredService<ILogger<WorkspaceLifecycle>>()));
        services.AddSingleton<IWorkspacePartitions>(sp =>
        {
            var cgroups = new CgroupPartitions();
            var (on, why) = ProjectCgroupPartitions.Decide(options.ProjectPartitions, options.LibvirtUri, Directory.Exists("/run/systemd/system"), cgroups.Layout);
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IWorkspacePartitions).FullName!);
            PartitionLog.Decided(logger, on, why);
            return on ? new ProjectCgroupPartitions(cgroups) : NoPartitions.Instance;
        });
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<Reloadable<AgentOptions>>();
            return new WorkspaceFit(sp.GetRequiredService<HostDescription>(), () => settings.Current.Capacity, sp.GetRequiredService<WorkspaceInventory>());
        });
        services.AddSingleton<WorkspaceMachine>();
        services.AddSingleton(sp => new NetworkCommands(sp.GetRequiredService<CommandRunner>()));
        services.AddSingleton<BridgeManager>();
        services.AddSingleton(sp => new NetworkRulesManager(
            sp.GetRequiredService<NetworkCommands>(),
            Path.Combine(options.StateDirectory, "network"),
            sp.GetRequiredService<ILogger<NetworkRulesManager>>(),
            // Frames from a NodeAgent tap without rules (a guest whose rules are not in place yet) are dropped.
            TapGuard.Create(TapNames.Prefixes, options.Networks)));
        services.AddSingleton(sp => new WorkspaceNetworks(options.Networks, sp.GetRequiredService<BridgeManager>(), sp.GetRequiredService<NetworkRulesManager>()));
        services.AddSingleton<StatusReporter>();
        services.AddSingleton(_ => new NodeAgent.Metrics.MetricsRegistry());
        services.AddSingleton<AgentMetrics>();
        services.AddSingleton<WorkspaceStatsCollector>();
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<Reloadable<AgentOptions>>();
            return new HostCollector(sp.GetRequiredService<NodeAgent.Metrics.MetricsRegistry>(), sp.GetRequiredService<HostDescription>(),
                () => settings.Current.Capacity, sp.GetRequiredService<IHypervisor>(), new ProcFileSystem(options.ProcRoot));
        });
        services.AddSingleton<MetricsEndpoint>();
        services.AddSingleton<WorkspaceOperations>();
        services.AddSingleton(_ => UsageJournal.Open(Path.Combine(options.StateDirectory, "usage")));
        services.AddSingleton(sp => new UsageSampler(
            new UsageProbe(sp.GetRequiredService<IHypervisor>(), new CgroupCpu(), id.Value), sp.GetRequiredService<UsageJournal>(), id.Value,
            options.UsagePeriod, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UsageSampler>>()));
        services.AddSingleton<IUsageCheckpoint>(sp => sp.GetRequiredService<UsageSampler>());
        services.AddHostedService(sp => sp.GetRequiredService<UsageSampler>());
        services.AddHostedService(sp => new UsageShipper(
            sp.GetRequiredService<UsageJournal>(), new NodeAgent.Contract.V1.UsageServiceClient(sp.GetRequiredService<RpcChannel>()), id.Value,
            new Backoff(sp.GetRequiredService<Random>(), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)),
            (wait, token) => Task.Delay(wait, sp.GetRequiredService<TimeProvider>(), token), options.UsagePeriod, sp.GetRequiredService<ILogger<UsageShipper>>()));
        services.AddHostedService<NetworkSetup>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusReporter>());
        services.AddSingleton<SchedulerLink>().AddHostedService(sp => sp.GetRequiredService<SchedulerLink>());
        services.AddHostedService<Reconciler>();
        services.AddHostedService<DomainEventWatcher>();
        services.AddHostedService<MemoryTrim>();
        services.AddHostedService(sp =>
        {
            // The collectors add their families to the registry when made, before the first scrape.
            _ = sp.GetRequiredService<WorkspaceStatsCollector>();
            _ = sp.GetRequiredService<HostCollector>();
            return sp.GetRequiredService<MetricsEndpoint>();
        });
        configureServices?.Invoke(services);
        // The reconciler marks its progress here; without systemd's watchdog nothing reads it.
        services.TryAddSingleton(sp => new Liveness(sp.GetRequiredService<TimeProvider>()));
        return builder.Build();
    }
}
