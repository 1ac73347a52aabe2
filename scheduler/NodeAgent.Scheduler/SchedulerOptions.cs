using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Networks;

namespace NodeAgent.Scheduler;

/// <summary>The scheduler's configuration, validated as a whole.</summary>
public sealed record SchedulerOptions
{
    public const string DefaultListen = "http://127.0.0.1:7700";

    public IReadOnlyList<RpcListenAddress> Listen { get; init; } = [RpcListenAddress.Parse(DefaultListen)];

    public const string DefaultDatabasePath = "/var/lib/nodeagent-scheduler/scheduler.db";

    /// <summary>
    /// The SQLite file, created with its schema on first start; or a PostgreSQL database (postgresql://USER@HOST:PORT/NAME,
    /// or an Npgsql connection string) that several replicas share (<see cref="DatabaseLocation"/>).
    /// </summary>
    public string DatabasePath { get; init; } = DefaultDatabasePath;

    /// <summary><see cref="DatabasePath"/> read; throws <see cref="ArgumentException"/> when it is neither a path nor a PostgreSQL location.</summary>
    public Store.DatabaseLocation Database => Store.DatabaseLocation.Parse(DatabasePath);

    /// <summary>How callers are known: bearer tokens, or (for a scheduler no one else reaches) not at all.</summary>
    public Security.AuthMode Auth { get; init; } = Security.AuthMode.Token;

    private readonly string? _adminTokenFile;

    /// <summary>Where the first admin token is written; by default <c>admin.token</c> beside the SQLite file (with PostgreSQL, beside the default one).</summary>
    public string AdminTokenFile
    {
        get => _adminTokenFile ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(DatabaseFileOrDefault)) ?? "/", "admin.token");
        init => _adminTokenFile = value;
    }

    /// <summary>The PEM certificate (with its chain) served on https:// listen addresses; null for none.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>The PEM CA certificates agents' client certificates chain to; null: agents authenticate with tokens only.</summary>
    public string? ClientCa { get; init; }

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan HeartbeatTtl { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long before a lease's end its owner is warned (the lease's reason says so, and watchers see it).</summary>
    public TimeSpan ExpiryWarning { get; init; } = Leases.LeaseExpiryPolicy.Default.Warning;

    /// <summary>How long after a lease's end its stopped workspace is kept (for `ws save` or `ws extend`) before it is destroyed.</summary>
    public TimeSpan ExpiryGrace { get; init; } = Leases.LeaseExpiryPolicy.Default.Grace;

    /// <summary>How placement filters and ranks hosts: strategy, ranker weights, sample size, seed.</summary>
    public NodeAgent.Scheduler.Placement.PlacementOptions Placement { get; init; } = NodeAgent.Scheduler.Placement.PlacementOptions.Default;

    /// <summary>The half-life of each host's smoothed load (CPU utilization, memory pressure) that placement ranks by.</summary>
    public TimeSpan LoadHalfLife { get; init; } = NodeAgent.Scheduler.Placement.LoadAverage.DefaultHalfLife;

    /// <summary>How often draining hosts are checked for becoming drained or missing their deadline.</summary>
    public TimeSpan DrainCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The networks workspaces get addresses on; none means workspaces get no NIC.</summary>
    public IReadOnlyList<NetworkDefinition> Networks { get; init; } = [];

    /// <summary>The network of a lease that names none; null means the first configured.</summary>
    public string? DefaultNetwork { get; init; }

    /// <summary>How long an address stays out of use after its workspace is gone.</summary>
    public TimeSpan AddressQuarantine { get; init; } = TimeSpan.FromMinutes(10);

    public const string DefaultImageListen = "http://127.0.0.1:7701";

    private readonly string? _imageRepositoryPath;

    /// <summary>The image repository's directory; by default <c>images</c> beside the SQLite file (with PostgreSQL, beside the default one).</summary>
    public string ImageRepositoryPath
    {
        get => _imageRepositoryPath ?? Path.Combine(
            Path.GetDirectoryName(Path.GetFullPath(DatabaseFileOrDefault)) ?? "/", "images");
        init => _imageRepositoryPath = value;
    }

    /// <summary>Where the image repository listens (plain HTTP); null runs the scheduler without one.</summary>
    public RpcListenAddress? ImageListen { get; init; } = RpcListenAddress.Parse(DefaultImageListen);

    /// <summary>The repository's address as agents and ws reach it; null means the bound <see cref="ImageListen"/> address.</summary>
    public Uri? ImageUrl { get; init; }

    /// <summary>The largest image the repository takes, in bytes.</summary>
    public long ImageMaxSizeBytes { get; init; } = (long)NodeAgent.Contract.ImageSyntax.MaxSizeBytes;

    /// <summary>The network of a lease that names none, or null when no networks are configured.</summary>
    public NetworkDefinition? DefaultNetworkDefinition =>
        DefaultNetwork is null ? (Networks.Count > 0 ? Networks[0] : null) : Networks.FirstOrDefault(n => n.Name == DefaultNetwork);

    /// <summary>Every problem with these options at once, each naming the setting and what is allowed.</summary>
    /// <summary>The SQLite file, or the default one's path when the database is PostgreSQL (or not valid: <see cref="Validate"/> says so).</summary>
    private string DatabaseFileOrDefault
    {
        get
        {
            try
            {
                return Store.DatabaseLocation.Parse(DatabasePath) is Store.DatabaseLocation.SqliteFile file ? file.Path : DefaultDatabasePath;
            }
            catch (ArgumentException)
            {
                return DefaultDatabasePath;
            }
        }
    }

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Listen.Count == 0)
        {
            problems.Add("listen: at least one address is needed, e.g. " + DefaultListen);
        }

        var tls = Listen.Any(l => l.Tls);
        if (tls && (TlsCertificate is null || TlsKey is null))
        {
            problems.Add("tls-cert, tls-key: an https:// listen address needs both, as PEM files");
        }

        if (!tls && (TlsCertificate is not null || ClientCa is not null))
        {
            problems.Add("tls-cert, client-ca: no listen address is https://; add one, e.g. https://0.0.0.0:7700, or leave these out");
        }

        if ((TlsCertificate is null) != (TlsKey is null))
        {
            problems.Add("tls-cert, tls-key: give both, or neither");
        }

        try
        {
            _ = Database;
        }
        catch (ArgumentException e)
        {
            problems.Add("database: " + e.Message);
        }

        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            problems.Add($"heartbeat-interval: {HeartbeatInterval} must be positive");
        }

        if (HeartbeatTtl < HeartbeatInterval * 2)
        {
            problems.Add($"heartbeat-ttl: {HeartbeatTtl} must be at least twice heartbeat-interval ({HeartbeatInterval}), or one late heartbeat marks a host down");
        }

        if (ExpiryWarning < TimeSpan.Zero || ExpiryWarning > TimeSpan.FromDays(7))
        {
            problems.Add($"expiry-warning: {ExpiryWarning} is outside 0–7 days; the default is {Leases.LeaseExpiryPolicy.Default.Warning}");
        }

        if (ExpiryGrace < TimeSpan.Zero || ExpiryGrace > TimeSpan.FromDays(7))
        {
            problems.Add($"expiry-grace: {ExpiryGrace} is outside 0–7 days; the default is {Leases.LeaseExpiryPolicy.Default.Grace}");
        }

        if (LoadHalfLife <= TimeSpan.Zero)
        {
            problems.Add($"load-half-life: {LoadHalfLife} must be positive, e.g. 00:01:00");
        }

        problems.AddRange(Placement.Validate().Select(p => "placement: " + p));

        if (DrainCheckInterval <= TimeSpan.Zero)
        {
            problems.Add($"drain-check-interval: {DrainCheckInterval} must be positive, e.g. 00:00:05");
        }

        problems.AddRange(NetworkChecks.Problems(Networks, DefaultNetwork, AddressQuarantine));
        problems.AddRange(ImageRepositoryChecks.Problems(this));
        return problems;
    }
}
