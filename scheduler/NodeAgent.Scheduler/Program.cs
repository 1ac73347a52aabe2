using System.CommandLine;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;

var listen = new Option<string[]>("--listen")
{
    Description = $"Address to serve gRPC on: http://IP:PORT (h2c) or https://IP:PORT. Repeatable. Default: {SchedulerOptions.DefaultListen}",
    AllowMultipleArgumentsPerToken = false,
};
var database = new Option<string>("--database")
{
    Description = "SQLite database file; created with its schema on first start.",
    DefaultValueFactory = _ => new SchedulerOptions().DatabasePath,
};
var heartbeatInterval = new Option<TimeSpan>("--heartbeat-interval")
{
    Description = "How often agents are asked to heartbeat (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().HeartbeatInterval,
};
var heartbeatTtl = new Option<TimeSpan>("--heartbeat-ttl")
{
    Description = "A host with no heartbeat for this long is down (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().HeartbeatTtl,
};
var networks = new Option<string[]>("--network")
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
var defaultNetwork = new Option<string?>("--default-network")
{
    Description = "The network of a lease that names none. Default: the first --network.",
};
var addressQuarantine = new Option<TimeSpan>("--address-quarantine")
{
    Description = "How long an address stays unused after its workspace is gone, so a new workspace gets no traffic meant for the old one (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().AddressQuarantine,
};
var imageRepository = new Option<string?>("--image-repository")
{
    HelpName = "DIR",
    Description = """
        Directory of the scheduler's image repository: image files named by their sha256 digest, under
        DIR/sha256/. Saved workspaces and files added with `ws image add --file` are stored
        here, and agents download them from --image-url. Created if missing (mode 0750). Uploads in progress
        are written beside their final name as HEX.upload-RANDOM and renamed when their digest checks out;
        leftovers of a killed scheduler are removed at start. Give it a file system with room for every
        saved image. Default: the directory `images` beside the --database file.
        """,
};
var imageListen = new Option<string>("--image-listen")
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
var imageUrl = new Option<string?>("--image-url")
{
    HelpName = "URL",
    Description = """
        The repository's address as agents and ws reach it, e.g. http://scheduler.example.org:7701;
        /v1/images is appended unless the URL already ends with it. Needed when --image-listen is a
        wildcard address (0.0.0.0 or [::]), and whenever agents reach the scheduler by a name or through a
        proxy. Default: the address --image-listen really bound.
        """,
};
var imageMaxSize = new Option<string>("--image-max-size")
{
    HelpName = "SIZE",
    Description = $"""
        The largest image an upload may be: {ImageRepositoryChecks.SizeSyntax}.
        Larger uploads are refused (HTTP 413) before a byte is stored. At most 16T.
        """,
    DefaultValueFactory = _ => "16T",
};
var placementStrategy = new Option<string>("--placement-strategy")
{
    HelpName = "spread|pack",
    Description = "spread: prefer the host with the smallest share of its capacity allocated, so load stays even; pack: prefer the fullest host that fits, so whole hosts stay free.",
    DefaultValueFactory = _ => "spread",
};
var placementWeights = new Option<string>("--placement-weights")
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
var placementSample = new Option<int>("--placement-sample")
{
    HelpName = "N",
    Description = "Rank at most N feasible hosts, found by examining hosts in a random order, so a placement costs the same on 100 hosts and on 10,000.",
    DefaultValueFactory = _ => PlacementOptions.DefaultSampleSize,
};
var placementSeed = new Option<int?>("--placement-seed")
{
    Description = "The seed of the random order hosts are examined in; by default one is drawn at start. The seed in use is logged at start, and each decision's sample seed with it, so a decision can be replayed.",
};
var expiryWarning = new Option<TimeSpan>("--expiry-warning")
{
    Description = "How long before a lease ends its owner is warned: the lease's reason says when it ends and how to extend it (hh:mm:ss).",
    DefaultValueFactory = _ => new SchedulerOptions().ExpiryWarning,
};
var expiryGrace = new Option<TimeSpan>("--expiry-grace")
{
    Description = "When a lease ends its guest is shut down; this long after, its workspace is destroyed (hh:mm:ss). Meanwhile the owner can "
        + "`ws save` the stopped disk or `ws extend` the lease. Agents also destroy an expired workspace on their own this long after its end "
        + "(plus a margin) when they cannot reach the scheduler.",
    DefaultValueFactory = _ => new SchedulerOptions().ExpiryGrace,
};
var loadHalfLife = new Option<TimeSpan>("--load-half-life")
{
    Description = "The half-life of each host's smoothed load that placement ranks by (hh:mm:ss): a sample this old counts half as much as a new one.",
    DefaultValueFactory = _ => new SchedulerOptions().LoadHalfLife,
};

var root = new RootCommand("nodeagent-scheduler: registers hosts, places leased workspaces on them by load, hands out their addresses, and ends leases when they expire.")
{
    listen, database, heartbeatInterval, heartbeatTtl, networks, defaultNetwork, addressQuarantine,
    imageRepository, imageListen, imageUrl, imageMaxSize, placementStrategy, placementWeights, placementSample, placementSeed, loadHalfLife, expiryWarning, expiryGrace,
};
root.SetAction(async (result, cancellationToken) =>
{
    SchedulerOptions options;
    try
    {
        var addresses = result.GetValue(listen) is { Length: > 0 } given ? given : [SchedulerOptions.DefaultListen];
        options = new SchedulerOptions
        {
            Listen = addresses.Select(RpcListenAddress.Parse).ToList(),
            DatabasePath = result.GetValue(database)!,
            HeartbeatInterval = result.GetValue(heartbeatInterval),
            HeartbeatTtl = result.GetValue(heartbeatTtl),
            Networks = ParseNetworks(result.GetValue(networks) ?? []),
            DefaultNetwork = result.GetValue(defaultNetwork),
            AddressQuarantine = result.GetValue(addressQuarantine),
            ImageListen = result.GetValue(imageListen) is "none" ? null : RpcListenAddress.Parse(result.GetValue(imageListen)!),
            ImageUrl = result.GetValue(imageUrl) is { } url ? ParseUrl("image-url", url) : null,
            ImageMaxSizeBytes = ImageRepositoryChecks.ParseSize(result.GetValue(imageMaxSize)!),
            Placement = new PlacementOptions
            {
                Strategy = PlacementOptions.ParseStrategy(result.GetValue(placementStrategy)!),
                Weights = PlacementOptions.ParseWeights(result.GetValue(placementWeights)!),
                SampleSize = result.GetValue(placementSample),
                Seed = result.GetValue(placementSeed),
            },
            LoadHalfLife = result.GetValue(loadHalfLife),
            ExpiryWarning = result.GetValue(expiryWarning),
            ExpiryGrace = result.GetValue(expiryGrace),
        };
        if (result.GetValue(imageRepository) is { } directory)
        {
            options = options with { ImageRepositoryPath = directory };
        }
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync("nodeagent-scheduler: " + e.Message);
        return 2;
    }

    var problems = options.Validate();
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync("nodeagent-scheduler: invalid configuration:\n  " + string.Join("\n  ", problems));
        return 2;
    }

    await using var app = SchedulerApp.Build(options);
    await app.StartAsync(cancellationToken);
    foreach (var address in SchedulerApp.BoundAddresses(app))
    {
        Console.WriteLine($"nodeagent-scheduler listening on {address}");
    }

    var images = app.Services.GetRequiredService<ImageRepository>();
    Console.WriteLine(images.PublicUrl is { } imagesUrl
        ? $"nodeagent-scheduler image repository at {imagesUrl}, files in {images.Directory}"
        : "nodeagent-scheduler runs without an image repository (--image-listen none)");

    var placement = app.Services.GetRequiredService<PlacementPipeline>();
    Console.WriteLine($"placement: {options.Placement.Strategy.ToString().ToLowerInvariant()}, weights {PlacementOptions.FormatWeights(options.Placement.Weights)}, " +
        $"sample {placement.SampleSize} hosts, seed {placement.Seed}");

    foreach (var network in options.Networks)
    {
        var isDefault = ReferenceEquals(network, options.DefaultNetworkDefinition) ? ", the default" : string.Empty;
        Console.WriteLine($"network {network}: {new AddressPool(network).Size} addresses to hand out{isDefault}");
    }

    await app.WaitForShutdownAsync(CancellationToken.None);
    return 0;
});

return await root.Parse(args).InvokeAsync();

static Uri ParseUrl(string option, string value) =>
    Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri : throw new FormatException($"{option} '{value}' is not an absolute URL such as http://scheduler.example.org:7701");

// Every --network value is read, so one start reports each malformed one.
static List<NetworkDefinition> ParseNetworks(string[] values)
{
    var parsed = new List<NetworkDefinition>();
    var problems = new List<string>();
    foreach (var value in values)
    {
        try
        {
            parsed.Add(NetworkDefinition.Parse(value));
        }
        catch (FormatException e)
        {
            problems.Add(e.Message);
        }
    }

    return problems.Count == 0 ? parsed : throw new FormatException(string.Join("\n  ", problems));
}
