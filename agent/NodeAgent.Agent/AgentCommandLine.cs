using System.CommandLine;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Networking;
using NodeAgent.Agent.Partitions;
using NodeAgent.Rpc.Client;
using NodeAgent.Service;

namespace NodeAgent.Agent;

/// <summary>
/// nodeagent's options: the command line, and the keys of its configuration file (docs/service.md), which are the
/// same names without their dashes. <see cref="Bind"/> turns them into <see cref="AgentOptions"/>, collecting
/// every problem.
/// </summary>
public sealed class AgentCommandLine
{
    /// <summary>The configuration file read when --config is not given and it exists.</summary>
    public const string DefaultConfigPath = "/etc/nodeagent/nodeagent.conf";

    /// <summary>The keys a reload (SIGHUP) applies while the agent runs; a change of any other waits for a restart.</summary>
    public static readonly IReadOnlySet<string> ReloadableKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "label", "reserved-vcpus", "reserved-memory", "cpu-overcommit", "memory-overcommit", "stop-timeout", "usage-period", "log-level",
    };

    public AgentCommandLine()
    {
        Root = new RootCommand("nodeagent: runs leased workspaces on this host as libvirt domains and reports to the scheduler.")
        {
            Scheduler, TokenFile, TlsCertificate, TlsKey, CaFile, StateDirectory, ImagesDirectory, ImageCacheSize, ImageFetchAttempts, LibvirtUri, DomainType, ReconcileInterval, StopTimeout,
            UsagePeriod, ExpiryMargin, ParallelOperations, HostId, Networks, Labels, ReservedVcpus, ReservedMemory, CpuOvercommit, MemoryOvercommit,
            MetricsListen, ProjectPartitions,
        };
        Service.AddTo(Root);
        foreach (var option in Root.Options.Where(o => ReloadableKeys.Contains(DaemonConfiguration.KeyOf(o))))
        {
            option.Description += " A reload (SIGHUP) applies a change.";
        }
    }

    public RootCommand Root { get; }

    /// <summary>--config, --log-level and --log-format.</summary>
    public ServiceOptions Service { get; } = new("nodeagent", DefaultConfigPath);

    public Option<string> Scheduler { get; } = new("--scheduler")
    {
        Description = $"The scheduler's gRPC address, or its replicas' separated by commas (the agent fails over to the next when one cannot be reached). Default: {AgentOptions.DefaultScheduler}",
        DefaultValueFactory = _ => AgentOptions.DefaultScheduler,
    };

    public Option<string?> TokenFile { get; } = new("--token-file")
    {
        Description = "The file holding this host's agent token (made by an admin with `ws admin token create --host ID`), read again " +
            "whenever it changes. Without the file, calls carry no token: only a scheduler run with --auth none takes them. " +
            "Default: agent.token in the state directory.",
    };

    public Option<string?> TlsCertificate { get; } = new("--tls-cert")
    {
        Description = "A client certificate (PEM) to present to an https:// scheduler run with --client-ca: its common name (CN) must be " +
            "this host's id, and it must allow client authentication. The scheduler then knows this agent by it, without a token. " +
            "Read again when the file changes.",
    };

    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "The PEM private key of --tls-cert, unencrypted." };

    public Option<string?> CaFile { get; } = new("--ca-file")
    {
        Description = "CA certificates (PEM) the scheduler's certificate must chain to, for an https:// scheduler with a certificate " +
            "of your own CA. Default: the system's trust store.",
    };

    public Option<string> StateDirectory { get; } = new("--state-directory")
    {
        Description = "Where the agent keeps its host id, images and workspace disks.",
        DefaultValueFactory = _ => new AgentOptions().StateDirectory,
    };

    public Option<string?> ImagesDirectory { get; } = new("--images-directory")
    {
        Description = "The image cache: images workspaces boot from, fetched from the catalogue's URLs on first use, verified against their "
            + "sha256 and kept by digest (one copy per image). Default: STATE/images.",
    };

    public Option<string> ImageCacheSize { get; } = new("--image-cache-size")
    {
        Description = "The most the image cache may hold, e.g. 50G. Images no workspace on this host uses are evicted, least recently used first, "
            + "to make room; an image a workspace uses is never evicted, so a lease whose image does not fit fails, saying so.",
        DefaultValueFactory = _ => "50G",
    };

    public Option<int> ImageFetchAttempts { get; } = new("--image-fetch-attempts")
    {
        Description = "How often a download is tried (resuming where the last attempt stopped, waiting 1, 2, 4… up to 30 s between) before the "
            + "workspace fails with the reason. A 404 or a wrong digest is not tried again.",
        DefaultValueFactory = _ => new AgentOptions().ImageFetchAttempts,
    };

    public Option<string> LibvirtUri { get; } = new("--libvirt-uri")
    {
        Description = "The libvirt connection URI. qemu:///system and DRIVER+unix:///PATH are spoken to over the daemon's unix socket by the agent itself; other URIs (test:///default, qemu:///session, ssh and tls transports) go through libvirt's C library.",
        DefaultValueFactory = _ => new AgentOptions().LibvirtUri,
    };

    public Option<DomainTypePreference> DomainType { get; } = new("--domain-type")
    {
        Description = "Domain type for guests: Auto (KVM when usable for ordinary guests, else QEMU emulation), Kvm, or Qemu.",
        DefaultValueFactory = _ => DomainTypePreference.Auto,
    };

    public Option<TimeSpan> ReconcileInterval { get; } = new("--reconcile-interval")
    {
        Description = "How often to compare every workspace with libvirt even when no change or event arrived (hh:mm:ss).",
        DefaultValueFactory = _ => new AgentOptions().ReconcileInterval,
    };

    public Option<TimeSpan> StopTimeout { get; } = new("--stop-timeout")
    {
        Description = "How long a guest asked to shut down (ACPI: `ws stop`, `ws reboot`) gets before it is powered off (hh:mm:ss). "
            + "An agent restarted meanwhile keeps the original deadline.",
        DefaultValueFactory = _ => new AgentOptions().StopTimeout,
    };

    public Option<TimeSpan> UsagePeriod { get; } = new("--usage-period")
    {
        Description = "How often each workspace's use (CPU, memory, network, disk, powered-on time) is sampled into a usage record (hh:mm:ss). "
            + "Records are kept in STATE/usage until the scheduler has stored them (docs/metering.md).",
        DefaultValueFactory = _ => new AgentOptions().UsagePeriod,
    };

    public Option<TimeSpan> ExpiryMargin { get; } = new("--expiry-margin")
    {
        Description = "When the scheduler has not ended a lease this long after its end, the agent shuts the guest down itself, and removes the "
            + "workspace this long after the destruction time the scheduler gave it (its --expiry-grace after the end): a host cut off from the "
            + "scheduler never keeps expired workspaces (hh:mm:ss).",
        DefaultValueFactory = _ => new AgentOptions().ExpiryMargin,
    };

    public Option<int> ParallelOperations { get; } = new("--parallel-operations")
    {
        Description = "How many workspaces may be created, stopped or removed at once; the others wait their turn.",
        DefaultValueFactory = _ => new AgentOptions().ParallelOperations,
    };

    public Option<string?> HostId { get; } = new("--host-id") { Description = "Register under this id instead of the one kept in the state directory." };

    public Option<string[]> Networks { get; } = new("--network")
    {
        Description = "A network this host offers workspaces, as " + NetworkDefinition.Syntax + "; repeat it for each network. "
            + "The agent creates the bridge BRIDGE if it is missing and brings it up. With uplink=IFACE it makes IFACE a port of the bridge "
            + "(IFACE must carry no addresses); with vlan=ID (1-4094) it makes the VLAN interface IFACE.ID instead. "
            + "Bridges are never deleted by the agent. NAME: a lower-case letter, then up to 14 of a-z, 0-9, '-'; "
            + "BRIDGE: up to 15 of a-z, 0-9, '-', '_'. "
            + "Example: --network default=nabr0,uplink=eth1,vlan=100",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> Labels { get; } = new("--label")
    {
        HelpName = "KEY=VALUE",
        Description = "A label of this host, which leases can require (ws lease --label KEY=VALUE); repeat it for each label. KEY: lower-case "
            + "letters, digits, '-', '_' and '.'; VALUE: up to 253 characters; changed labels reach the scheduler at once.",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    // What the host offers to workspaces: (host's amount − reserved) × overcommit, rounded down.
    public Option<int> ReservedVcpus { get; } = new("--reserved-vcpus")
    {
        Description = "Host CPUs kept for the host itself (OS, libvirtd, QEMU's I/O, this agent) and not offered to workspaces.",
        DefaultValueFactory = _ => 0,
    };

    public Option<string?> ReservedMemory { get; } = new("--reserved-memory")
    {
        Description = "Memory kept for the host itself and not offered to workspaces, e.g. 512M or 2G. "
            + "Default: 512M, or a quarter of the host's memory when that is less.",
    };

    public Option<double> CpuOvercommit { get; } = new("--cpu-overcommit")
    {
        Description = "vCPUs offered per host CPU left after --reserved-vcpus, above 0 and at most 64; 1 offers no more than the host has. "
            + "The default is OpenStack Nova's: workspaces are mostly idle and placement follows measured CPU load. Use 1 for CPU-bound batch work.",
        DefaultValueFactory = _ => CapacityPolicy.DefaultCpuOvercommit,
    };

    public Option<double> MemoryOvercommit { get; } = new("--memory-overcommit")
    {
        Description = "Memory offered per byte left after --reserved-memory, above 0 and at most 64. "
            + "The default offers none beyond the host's: guest memory is not ballooned, so memory promised twice ends with the OOM killer stopping a guest.",
        DefaultValueFactory = _ => CapacityPolicy.DefaultMemoryOvercommit,
    };

    public Option<string> MetricsListen { get; } = new("--metrics-listen")
    {
        Description = "Where Prometheus scrapes /metrics (text format 0.0.4; docs/metrics.md lists the series), as IP:PORT, or none. "
            + "The default listens on loopback only: open it to your Prometheus with e.g. 0.0.0.0:9177, and firewall it to that server.",
        DefaultValueFactory = _ => AgentOptions.DefaultMetricsListen,
    };

    public Option<PartitionMode> ProjectPartitions { get; } = new("--project-partitions")
    {
        Description = "Run each project's workspaces in one cgroup partition (/machine/project-NAME) with an equal CPU weight, so a project "
            + "with ten workspaces cannot starve one with a single workspace: Auto (on with libvirt's QEMU driver on a host whose cgroups libvirt "
            + "manages itself; off under systemd, whose slices the agent does not manage yet), On, or Off (docs/resources.md).",
        DefaultValueFactory = _ => PartitionMode.Auto,
    };

    /// <summary>
    /// The options as configured. Every problem (values that do not parse, and <see cref="AgentOptions.Validate"/>'s)
    /// is added to <paramref name="configuration"/>, with the file line it comes from; the result is only to be used when there is none.
    /// </summary>
    /// <param name="host">The host's raw size, to check that the reservation leaves something; null skips those checks.</param>
    public AgentOptions Bind(DaemonConfiguration configuration, HostSize? host)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var c = configuration;
        var defaults = new AgentOptions();
        var networks = new List<NetworkDefinition>();
        foreach (var text in c.Get(Networks) ?? [])
        {
            if (NetworkDefinition.TryParse(text, out var definition, out var problems))
            {
                networks.Add(definition!);
            }
            else
            {
                foreach (var problem in problems)
                {
                    c.AddProblem(Networks, problem, text);
                }
            }
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in c.Get(Labels) ?? [])
        {
            var (key, value) = c.Parse(Labels, text, ParseLabel);
            if (key is null)
            {
                continue;
            }

            foreach (var problem in AgentOptions.LabelProblems(key, value))
            {
                c.AddProblem(Labels, problem, text);
            }

            if (!labels.TryAdd(key, value))
            {
                c.AddProblem(Labels, $"label {key} is given twice; give each key once", text);
            }
        }

        var options = new AgentOptions
        {
            Schedulers = c.Parse(Scheduler, c.Get(Scheduler), RpcChannel.ParseAddresses) ?? defaults.Schedulers,
            StateDirectory = c.Get(StateDirectory) ?? defaults.StateDirectory,
            ImagesDirectory = c.Get(ImagesDirectory),
            ImageCacheBytes = c.Parse(ImageCacheSize, c.Get(ImageCacheSize), t => CapacityPolicy.ParseSize(t, "--image-cache-size")),
            ImageFetchAttempts = c.Get(ImageFetchAttempts),
            LibvirtUri = c.Get(LibvirtUri) ?? defaults.LibvirtUri,
            DomainType = c.Get(DomainType),
            ReconcileInterval = c.Get(ReconcileInterval),
            StopTimeout = c.Get(StopTimeout),
            UsagePeriod = c.Get(UsagePeriod),
            ExpiryMargin = c.Get(ExpiryMargin),
            ParallelOperations = c.Get(ParallelOperations),
            HostId = c.Get(HostId),
            Networks = networks,
            Labels = labels,
            ReservedVcpus = c.Get(ReservedVcpus),
            ReservedMemoryBytes = c.Parse(ReservedMemory, c.Get(ReservedMemory), t => (long?)CapacityPolicy.ParseSize(t, "--reserved-memory")),
            CpuOvercommit = c.Get(CpuOvercommit),
            MemoryOvercommit = c.Get(MemoryOvercommit),
            MetricsListen = c.Parse(MetricsListen, c.Get(MetricsListen), t => NodeAgent.Metrics.MetricsListenAddress.Parse(t)),
            ProjectPartitions = c.Get(ProjectPartitions),
            TlsCertificate = c.Get(TlsCertificate),
            TlsKey = c.Get(TlsKey),
            CaFile = c.Get(CaFile),
        };
        if (c.Get(TokenFile) is { } tokenFile)
        {
            options = options with { TokenFile = tokenFile };
        }

        c.AddValidationProblems(options.Validate(host));
        return options;
    }

    /// <summary>KEY=VALUE of --label; the key and value are checked by <see cref="AgentOptions.LabelProblems"/>.</summary>
    private static (string? Key, string Value) ParseLabel(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        return equals > 0
            ? (text[..equals].Trim(), text[(equals + 1)..].Trim())
            : throw new FormatException($"label '{NodeAgent.Contract.IdSyntax.Printable(text)}' is not KEY=VALUE; write e.g. --label rack=r12");
    }
}
