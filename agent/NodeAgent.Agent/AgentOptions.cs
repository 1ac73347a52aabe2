namespace NodeAgent.Agent;

/// <summary>The agent's configuration, validated as a whole.</summary>
public sealed record AgentOptions
{
    public const string DefaultScheduler = "http://127.0.0.1:7700";

    /// <summary>The command line's default for --metrics-listen: loopback only, until an operator opens it to their Prometheus.</summary>
    public const string DefaultMetricsListen = "127.0.0.1:9177";

    /// <summary>The scheduler's gRPC addresses (its replicas), tried in order; the agent fails over to the next when one cannot be reached.</summary>
    public IReadOnlyList<Uri> Schedulers { get; init; } = [new(DefaultScheduler)];

    /// <summary>The agent's client certificate (PEM) for mutual TLS with the scheduler, its common name this host's id; null for none.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>The CA certificates (PEM) the scheduler's certificate must chain to; null uses the system's trust store.</summary>
    public string? CaFile { get; init; }

    private readonly string? _tokenFile;

    /// <summary>The file holding this host's agent token, read again whenever it changes; by default agent.token in the state directory, beside host-id.</summary>
    public string TokenFile
    {
        get => _tokenFile ?? Path.Combine(StateDirectory, "agent.token");
        init => _tokenFile = value;
    }

    /// <summary>The first scheduler address; setting it sets a list of one.</summary>
    public Uri Scheduler
    {
        get => Schedulers[0];
        init => Schedulers = [value];
    }

    /// <summary>Where the agent keeps its host id and workspace disks.</summary>
    public string StateDirectory { get; init; } = "/var/lib/nodeagent";

    /// <summary>The libvirt connection: qemu:///system on a real host, test:///default for fast tests.</summary>
    public string LibvirtUri { get; init; } = "qemu:///system";

    /// <summary>How often the reconciler compares everything with libvirt even without a change or an event.</summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often each workspace's usage is sampled into a usage record (the record's period).</summary>
    public TimeSpan UsagePeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether each project's workspaces share one cgroup partition (docs/resources.md, "Per-project fair share").</summary>
    public Partitions.PartitionMode ProjectPartitions { get; init; } = Partitions.PartitionMode.Auto;

    /// <summary>How long after a lease's end (and after its destruction time) the agent enforces them itself when the scheduler has not.</summary>
    public TimeSpan ExpiryMargin { get; init; } = Workspaces.LocalExpiry.Default.Margin;

    /// <summary>How long a guest asked to shut down (ACPI) gets before it is powered off.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many workspaces may be in the middle of a step at once; the others wait their turn.</summary>
    public int ParallelOperations { get; init; } = 8;

    /// <summary>kvm, qemu, or auto (from the host's capabilities).</summary>
    public Hypervisor.DomainTypePreference DomainType { get; init; } = Hypervisor.DomainTypePreference.Auto;

    /// <summary>Where the image cache lives; defaults to STATE/images.</summary>
    public string? ImagesDirectory { get; init; }

    public string ImagesPath => ImagesDirectory ?? Path.Combine(StateDirectory, "images");

    /// <summary>The most the image cache may hold; least recently used images no workspace uses are evicted to stay under it.</summary>
    public long ImageCacheBytes { get; init; } = 50L << 30;

    /// <summary>How often an image download is tried before the workspace fails.</summary>
    public int ImageFetchAttempts { get; init; } = 5;

    /// <summary>Each workspace's disk and console log live in STATE/workspaces/ID.</summary>
    public string WorkspacesPath => Path.Combine(StateDirectory, "workspaces");

    /// <summary>Overrides the host id kept in the state directory.</summary>
    public string? HostId { get; init; }

    /// <summary>Root of the proc filesystem; tests point it at a prepared directory.</summary>
    public string ProcRoot { get; init; } = "/proc";

    /// <summary>The host's labels (--label KEY=VALUE), which leases can require; sent when the agent registers.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>The most labels a host may have (the scheduler accepts no more).</summary>
    public const int MaxLabels = 64;

    /// <summary>The longest label value (the scheduler's limit on free text).</summary>
    public const int MaxLabelValueLength = 253;

    /// <summary>The networks this host offers workspaces (--network), one bridge each; empty offers none.</summary>
    public IReadOnlyList<Networking.NetworkDefinition> Networks { get; init; } = [];

    /// <summary>
    /// Where Prometheus scrapes /metrics; null serves none. The command line defaults to <see cref="DefaultMetricsListen"/>;
    /// options made in code (tests) leave it off, so agents in one process do not compete for the port.
    /// </summary>
    public System.Net.IPEndPoint? MetricsListen { get; init; }

    /// <summary>Host CPUs kept for the host itself and not offered to workspaces.</summary>
    public int ReservedVcpus { get; init; }

    /// <summary>Memory kept for the host itself; null for the default of <see cref="HostFacts.CapacityPolicy.DefaultReservedMemory"/>.</summary>
    public long? ReservedMemoryBytes { get; init; }

    /// <summary>vCPUs offered per host CPU left after the reservation.</summary>
    public double CpuOvercommit { get; init; } = HostFacts.CapacityPolicy.DefaultCpuOvercommit;

    /// <summary>Bytes of memory offered per byte left after the reservation.</summary>
    public double MemoryOvercommit { get; init; } = HostFacts.CapacityPolicy.DefaultMemoryOvercommit;

    /// <summary>What of the host is offered to workspaces, from the four settings above.</summary>
    public HostFacts.CapacityPolicy Capacity => new(ReservedVcpus, ReservedMemoryBytes, CpuOvercommit, MemoryOvercommit);

    /// <param name="host">The host's raw size, to check that the reservation leaves something; null skips those checks.</param>
    private static void Try(List<string> problems, Action load)
    {
        try
        {
            load();
        }
        catch (NodeAgent.Rpc.TlsFileException e)
        {
            problems.Add(e.Message);
        }
    }

    public IReadOnlyList<string> Validate(HostFacts.HostSize? host = null)
    {
        var problems = new List<string>();
        if (Schedulers.Count == 0)
        {
            problems.Add("scheduler: no address given; use http://HOST:PORT or https://HOST:PORT, several separated by commas");
        }

        foreach (var scheduler in Schedulers.Where(s => s.Scheme is not ("http" or "https")))
        {
            problems.Add($"scheduler: '{scheduler}' must be http://HOST:PORT or https://HOST:PORT");
        }

        if (string.IsNullOrWhiteSpace(StateDirectory) || !Path.IsPathRooted(StateDirectory))
        {
            problems.Add($"state-directory: '{StateDirectory}' must be an absolute path");
        }

        if ((TlsCertificate is null) != (TlsKey is null))
        {
            problems.Add("tls-cert, tls-key: give both, or neither");
        }
        else if (TlsCertificate is not null)
        {
            Try(problems, () => NodeAgent.Rpc.TlsFiles.LoadCertificate(TlsCertificate, TlsKey!).Dispose());
        }

        if (CaFile is not null)
        {
            Try(problems, () => NodeAgent.Rpc.TlsFiles.LoadAuthorities(CaFile));
        }

        if (ImagesDirectory is not null && !Path.IsPathRooted(ImagesDirectory))
        {
            problems.Add($"images-directory: '{ImagesDirectory}' must be an absolute path");
        }

        if (ImageCacheBytes < 64L << 20)
        {
            problems.Add($"image-cache-size: {ImageCacheBytes} bytes is less than 64M; the cache must hold at least one image");
        }

        if (ImageFetchAttempts is < 1 or > 100)
        {
            problems.Add($"image-fetch-attempts: {ImageFetchAttempts} is outside 1–100");
        }

        if (string.IsNullOrWhiteSpace(LibvirtUri) || !LibvirtUri.Contains("://", StringComparison.Ordinal))
        {
            problems.Add($"libvirt-uri: '{LibvirtUri}' is not a libvirt URI such as qemu:///system");
        }

        if (ReconcileInterval < TimeSpan.FromSeconds(1))
        {
            problems.Add($"reconcile-interval: {ReconcileInterval} is shorter than a second");
        }

        if (StopTimeout < TimeSpan.Zero || StopTimeout > TimeSpan.FromHours(1))
        {
            problems.Add($"stop-timeout: {StopTimeout} is outside 0–1 hour (0 powers guests off without asking them first)");
        }

        if (ExpiryMargin < TimeSpan.Zero || ExpiryMargin > TimeSpan.FromDays(1))
        {
            problems.Add($"expiry-margin: {ExpiryMargin} is outside 0–1 day; the default is {Workspaces.LocalExpiry.Default.Margin}");
        }

        if (UsagePeriod < TimeSpan.FromSeconds(1) || UsagePeriod > TimeSpan.FromHours(1))
        {
            problems.Add($"usage-period: {UsagePeriod} is outside 1 second–1 hour; the default is 00:01:00");
        }

        if (ParallelOperations is < 1 or > 256)
        {
            problems.Add($"parallel-operations: {ParallelOperations} is outside 1–256");
        }

        if (HostId is not null && !Contract.IdSyntax.IsValid(HostId, out var problem))
        {
            problems.Add($"host-id {problem}");
        }

        problems.AddRange(LabelsProblems());
        problems.AddRange(Networking.NetworkDefinition.Validate(Networks));
        problems.AddRange(Capacity.Problems(host));
        return problems;
    }

    private IEnumerable<string> LabelsProblems()
    {
        if (Labels.Count > MaxLabels)
        {
            yield return $"label: {Labels.Count} labels are given; at most {MaxLabels} are allowed";
        }

        foreach (var problem in Labels.SelectMany(l => LabelProblems(l.Key, l.Value)))
        {
            yield return problem;
        }
    }

    /// <summary>What is wrong with one label: a key that is not an id, a value too long or with control characters.</summary>
    public static IEnumerable<string> LabelProblems(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!Contract.IdSyntax.IsValid(key, out var problem))
        {
            yield return $"label key {problem}";
        }

        if (value.Length > MaxLabelValueLength || value.Any(char.IsControl))
        {
            yield return $"label {Contract.IdSyntax.Printable(key)}: the value must be at most {MaxLabelValueLength} characters without control characters";
        }
    }
}
