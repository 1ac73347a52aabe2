using System.CommandLine;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Service;

namespace NodeAgent.Scheduler;

/// <summary>
/// nodeagent-scheduler's options: the command line, and the keys of its configuration file (docs/service.md), which
/// are the same names without their dashes. <see cref="Bind"/> turns them into <see cref="SchedulerOptions"/>,
/// collecting every problem.
/// </summary>
public sealed class SchedulerCommandLine
{
    /// <summary>The configuration file read when --config is not given and it exists.</summary>
    public const string DefaultConfigPath = "/etc/nodeagent/scheduler.conf";

    /// <summary>The keys a reload (SIGHUP) applies while the scheduler runs; a change of any other waits for a restart.</summary>
    public static readonly IReadOnlySet<string> ReloadableKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "placement-strategy", "placement-weights", "placement-sample", "expiry-warning", "expiry-grace", "heartbeat-ttl", "log-level",
        "tls-cert", "tls-key", "client-ca",
    };

    public SchedulerCommandLine()
    {
        Root = new RootCommand("nodeagent-scheduler: registers hosts, places leased workspaces on them by load, hands out their addresses, and ends leases when they expire.")
        {
            Listen, TlsCertificate, TlsKey, ClientCa, Database, Auth, AdminTokenFile, HeartbeatInterval, HeartbeatTtl, Networks, DefaultNetwork, AddressQuarantine,
            ImageRepository, ImageListen, ImageUrl, ImageMaxSize, PlacementStrategy, PlacementWeights, PlacementSample, PlacementSeed, LoadHalfLife, ExpiryWarning, ExpiryGrace,
        };
        Service.AddTo(Root);
        foreach (var option in Root.Options.Where(o => ReloadableKeys.Contains(DaemonConfiguration.KeyOf(o))))
        {
            option.Description += " A reload (SIGHUP) applies a change.";
        }
    }

    public RootCommand Root { get; }

    /// <summary>--config, --log-level and --log-format.</summary>
    public ServiceOptions Service { get; } = new("nodeagent-scheduler", DefaultConfigPath);

    public Option<string[]> Listen { get; } = new("--listen")
    {
        Description = $"Address to serve gRPC on: http://IP:PORT (h2c) or https://IP:PORT. Repeatable. Default: {SchedulerOptions.DefaultListen}",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> TlsCertificate { get; } = new("--tls-cert")
    {
        Description = "The certificate served on https:// listen addresses: a PEM file, the certificate first and then its intermediates. " +
            "Connections already open keep the certificate they began with.",
    };

    public Option<string?> TlsKey { get; } = new("--tls-key")
    {
        Description = "The PEM private key of --tls-cert, unencrypted; keep it readable by the scheduler's user only.",
    };

    public Option<string?> ClientCa { get; } = new("--client-ca")
    {
        Description = "CA certificates (PEM) that agents' client certificates chain to: an agent presenting such a certificate, with " +
            "client authentication in its key usage, acts for the host its common name (CN) names, and for no other. " +
            "Without it, agents authenticate with tokens only.",
    };

    public Option<string> Database { get; } = new("--database")
    {
        Description = "Where state is kept: an SQLite file, created with its schema on first start; or a PostgreSQL database that " +
            "several scheduler replicas share, as postgresql://USER@HOST:PORT/NAME (password in PGPASSWORD or ~/.pgpass).",
        DefaultValueFactory = _ => new SchedulerOptions().DatabasePath,
    };

    public Option<string> Auth { get; } = new("--auth")
    {
        Description = "How callers are known: 'token' (every call carries a bearer token; users see their own project only, hosts, images " +
            "and tokens are for admins, each agent acts for its own host), or 'none' (no checks: callers name themselves and may do " +
            "everything; only for a scheduler that no one else can reach). Default: token.",
        DefaultValueFactory = _ => "token",
    };

    public Option<string?> AdminTokenFile { get; } = new("--admin-token-file")
    {
        Description = "Where the first admin token is written (mode 0600) when the scheduler starts with --auth token and no admin token " +
            "is valid. Default: admin.token beside the SQLite file (with PostgreSQL, beside the default one).",
    };

    public Option<TimeSpan> HeartbeatInterval { get; } = new("--heartbeat-interval")
    {
        Description = "How often agents are asked to heartbeat (hh:mm:ss).",
        DefaultValueFactory = _ => new SchedulerOptions().HeartbeatInterval,
    };

    public Option<TimeSpan> HeartbeatTtl { get; } = new("--heartbeat-ttl")
    {
        Description = "A host with no heartbeat for this long is down (hh:mm:ss).",
        DefaultValueFactory = _ => new SchedulerOptions().HeartbeatTtl,
    };

    public Option<string[]> Networks { get; } = new("--network")
    {
        Description = $"""
            A network workspaces get an address on, as {NetworkDefinition.Syntax}. Repeatable.
            CIDR: IPv4, /{NetworkChecks.ShortestPrefix} to /{NetworkChecks.LongestPrefix}. Guests get the gateway and up to {NetworkChecks.MaxDnsServers} DNS servers. reserve takes
            single addresses and ranges. Never handed out: the network and broadcast addresses, the gateway, DNS
            servers inside the network, reserved addresses. NAME is [a-z][a-z0-9-], at most {NodeAgent.Contract.NetworkSyntax.MaxNameLength} characters,
            and must match the network's name on the agents whose hosts have a bridge for it.
            Without --network, workspaces get no NIC.
            Example: --network {NetworkDefinition.Example}
            """,
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> DefaultNetwork { get; } = new("--default-network")
    {
        Description = "The network of a lease that names none. Default: the first --network.",
    };

    public Option<TimeSpan> AddressQuarantine { get; } = new("--address-quarantine")
    {
        Description = "How long an address stays unused after its workspace is gone, so a new workspace gets no traffic meant for the old one (hh:mm:ss).",
        DefaultValueFactory = _ => new SchedulerOptions().AddressQuarantine,
    };

    public Option<string?> ImageRepository { get; } = new("--image-repository")
    {
        HelpName = "DIR",
        Description = """
            Directory of the scheduler's image repository: image files named by their sha256 digest, under
            DIR/sha256/. Saved workspaces and files added with `ws image add --file` are stored
            here, and agents download them from --image-url. Created if missing (mode 0750). Uploads in progress
            are written beside their final name as HEX.upload-RANDOM and renamed when their digest checks out;
            leftovers of a killed scheduler are removed at start. Give it a file system with room for every
            saved image. Default: the directory `images` beside the --database file (with PostgreSQL,
            /var/lib/nodeagent-scheduler/images). Replicas each need their own, or one they share.
            """,
    };

    public Option<string> ImageListen { get; } = new("--image-listen")
    {
        HelpName = "URL|none",
        Description = """
            Address the image repository serves on: http://IP:PORT, plain HTTP/1.1, so curl and any HTTP client
            can fetch an image. It serves GET and HEAD of /v1/images/sha256/HEX (with single byte ranges) and
            takes PUT of the same path (with Content-Length; the digest is checked before the file is kept);
            nothing else. The port must differ from --listen's; port 0 picks a free one. `none` runs the
            scheduler without a repository: saving workspaces and `ws image add --file` are then refused.
            This listener also serves the scheduler's Prometheus metrics at /metrics (docs/metrics.md);
            with `none` the scheduler exports no metrics.
            """,
        DefaultValueFactory = _ => SchedulerOptions.DefaultImageListen,
    };

    public Option<string?> ImageUrl { get; } = new("--image-url")
    {
        HelpName = "URL",
        Description = """
            The repository's address as agents and ws reach it, e.g. http://scheduler.example.org:7701;
            /v1/images is appended unless the URL already ends with it. Needed when --image-listen is a
            wildcard address (0.0.0.0 or [::]), and whenever agents reach the scheduler by a name or through a
            proxy. Default: the address --image-listen really bound.
            """,
    };

    public Option<string> ImageMaxSize { get; } = new("--image-max-size")
    {
        HelpName = "SIZE",
        Description = $"""
            The largest image an upload may be: {ImageRepositoryChecks.SizeSyntax}.
            Larger uploads are refused (HTTP 413) before a byte is stored. At most 16T.
            """,
        DefaultValueFactory = _ => "16T",
    };

    public Option<string> PlacementStrategy { get; } = new("--placement-strategy")
    {
        HelpName = "spread|pack",
        Description = "spread: prefer the host with the smallest share of its capacity allocated, so load stays even; pack: prefer the fullest host that fits, so whole hosts stay free.",
        DefaultValueFactory = _ => "spread",
    };

    public Option<string> PlacementWeights { get; } = new("--placement-weights")
    {
        HelpName = "NAME=W,…",
        Description = $"""
            How much each ranker counts; the score of a host is the weighted mean of its rankers' scores (0–1).
            Rankers: measured-load (the host's smoothed CPU utilization and memory pressure, as its agent measures them),
            image-cached (the image is in the host's cache), spread or pack (the strategy's ranker; either name sets it),
            group-spread (fewer live leases of the lease's spread group). A ranker left out counts 0.
            """,
        DefaultValueFactory = _ => PlacementOptions.DefaultWeightsText,
    };

    public Option<int> PlacementSample { get; } = new("--placement-sample")
    {
        HelpName = "N",
        Description = "Rank at most N feasible hosts, found by examining hosts in a random order, so a placement costs the same on 100 hosts and on 10,000.",
        DefaultValueFactory = _ => PlacementOptions.DefaultSampleSize,
    };

    public Option<int?> PlacementSeed { get; } = new("--placement-seed")
    {
        Description = "The seed of the random order hosts are examined in; by default one is drawn at start. The seed in use is logged at start, and each decision's sample seed with it, so a decision can be replayed.",
    };

    public Option<TimeSpan> ExpiryWarning { get; } = new("--expiry-warning")
    {
        Description = "How long before a lease ends its owner is warned: the lease's reason says when it ends and how to extend it (hh:mm:ss).",
        DefaultValueFactory = _ => new SchedulerOptions().ExpiryWarning,
    };

    public Option<TimeSpan> ExpiryGrace { get; } = new("--expiry-grace")
    {
        Description = "When a lease ends its guest is shut down; this long after, its workspace is destroyed (hh:mm:ss). Meanwhile the owner can "
            + "`ws save` the stopped disk or `ws extend` the lease. Agents also destroy an expired workspace on their own this long after its end "
            + "(plus a margin) when they cannot reach the scheduler.",
        DefaultValueFactory = _ => new SchedulerOptions().ExpiryGrace,
    };

    public Option<TimeSpan> LoadHalfLife { get; } = new("--load-half-life")
    {
        Description = "The half-life of each host's smoothed load that placement ranks by (hh:mm:ss): a sample this old counts half as much as a new one.",
        DefaultValueFactory = _ => new SchedulerOptions().LoadHalfLife,
    };

    /// <summary>
    /// The options as configured. Every problem (values that do not parse, and <see cref="SchedulerOptions.Validate"/>'s)
    /// is added to <paramref name="configuration"/>, with the file line it comes from; the result is only to be used when there is none.
    /// </summary>
    public SchedulerOptions Bind(DaemonConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var c = configuration;
        var defaults = new SchedulerOptions();
        var addresses = c.Get(Listen) is { Length: > 0 } given ? given : [SchedulerOptions.DefaultListen];
        var options = new SchedulerOptions
        {
            Listen = [.. addresses.Select(a => c.Parse(Listen, a, RpcListenAddress.Parse)).OfType<RpcListenAddress>()],
            DatabasePath = c.Get(Database) ?? defaults.DatabasePath,
            Auth = c.Parse(Auth, c.Get(Auth), ParseAuth),
            TlsCertificate = c.Get(TlsCertificate),
            TlsKey = c.Get(TlsKey),
            ClientCa = c.Get(ClientCa),
            HeartbeatInterval = c.Get(HeartbeatInterval),
            HeartbeatTtl = c.Get(HeartbeatTtl),
            Networks = [.. (c.Get(Networks) ?? []).Select(n => c.Parse(Networks, n, NetworkDefinition.Parse)).OfType<NetworkDefinition>()],
            DefaultNetwork = c.Get(DefaultNetwork),
            AddressQuarantine = c.Get(AddressQuarantine),
            ImageListen = c.Get(ImageListen) is "none" ? null : c.Parse(ImageListen, c.Get(ImageListen), RpcListenAddress.Parse),
            ImageUrl = c.Parse(ImageUrl, c.Get(ImageUrl), ParseUrl),
            ImageMaxSizeBytes = c.Parse(ImageMaxSize, c.Get(ImageMaxSize), ImageRepositoryChecks.ParseSize),
            Placement = new PlacementOptions
            {
                Strategy = c.Parse(PlacementStrategy, c.Get(PlacementStrategy), PlacementOptions.ParseStrategy),
                Weights = c.Parse(PlacementWeights, c.Get(PlacementWeights), PlacementOptions.ParseWeights) ?? PlacementOptions.Default.Weights,
                SampleSize = c.Get(PlacementSample),
                Seed = c.Get(PlacementSeed),
            },
            LoadHalfLife = c.Get(LoadHalfLife),
            ExpiryWarning = c.Get(ExpiryWarning),
            ExpiryGrace = c.Get(ExpiryGrace),
        };
        if (c.Get(AdminTokenFile) is { } tokenFile)
        {
            options = options with { AdminTokenFile = tokenFile };
        }

        if (c.Get(ImageRepository) is { } directory)
        {
            options = options with { ImageRepositoryPath = directory };
        }

        var problems = options.Validate();
        c.AddValidationProblems(problems);
        if (problems.Count == 0)
        {
            c.AddValidationProblems(Security.SchedulerTls.Problems(options));
        }

        return options;
    }

    private static Security.AuthMode ParseAuth(string value) => value switch
    {
        "token" => Security.AuthMode.Token,
        "none" => Security.AuthMode.None,
        _ => throw new FormatException($"auth '{value}' is neither 'token' nor 'none'"),
    };

    private static Uri ParseUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri : throw new FormatException($"image-url '{value}' is not an absolute URL such as http://scheduler.example.org:7701");
}
