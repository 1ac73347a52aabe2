using NodeAgent.Benchmarks;

// nodeagent-bench rpc [--in-flight N] [--seconds S] [--runs R] [--write docs/benchmarks.md]
// nodeagent-bench lease [--runs R] [--write docs/benchmarks.md]
// nodeagent-bench overlay [--runs R] [--write docs/benchmarks.md]
// nodeagent-bench metrics [--workspaces N] [--runs R] [--write docs/benchmarks.md]
// nodeagent-bench metering [--workspaces N] [--passes P] [--warmup W] [--write docs/benchmarks.md]
// nodeagent-bench startup [--binaries out/bin] [--runs R] [--write docs/benchmarks.md]
// nodeagent-bench placement [--hosts 100,1000,10000,10000:100000] [--leases N] [--group-size N] [--heartbeat-seconds S] [--store sqlite|postgresql] [--replicas N] [--runs R] [--client grpc|h2load] [--in-flight 64[,N…]] [--scheduler out/bin/nodeagent-scheduler] [--write docs/benchmarks.md]
// nodeagent-bench placement-pairs [--hosts 1000,10000] [--rounds 20] [--burst 8000] [--scheduler out/bin/nodeagent-scheduler[,OTHER]] [--write docs/benchmarks.md]
// nodeagent-bench sqlite-schema [--hosts 10000] [--leases 40000] [--scheduler out/bin/nodeagent-scheduler] [--write docs/benchmarks.md]
// --help anywhere prints the usage rather than running a benchmark with the options before it.
var command = args.Contains("--help") || args.Contains("-h") ? "--help" : args.FirstOrDefault();
string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

switch (command)
{
    case "serve-rpc":
        await RpcUnaryBenchmark.ServeAsync();
        return 0;
    case "rpc":
        var inFlight = int.Parse(Option("--in-flight") ?? "64", System.Globalization.CultureInfo.InvariantCulture);
        var seconds = double.Parse(Option("--seconds") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        var runs = int.Parse(Option("--runs") ?? "3", System.Globalization.CultureInfo.InvariantCulture);
        var body = await RpcUnaryBenchmark.RunAsync(inFlight, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(seconds), runs);
        if (Option("--write") is { } path)
        {
            BenchmarkReport.Write(path, "rpc-unary", "gRPC unary calls over one HTTP/2 connection", "make bench-rpc", body);
        }

        return 0;
    case "lease":
        var leaseRuns = int.Parse(Option("--runs") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        var leaseBody = await LeaseBenchmark.RunAsync(leaseRuns, Option("--configuration") ?? "Release");
        if (Option("--write") is { } leasePath)
        {
            BenchmarkReport.Write(leasePath, "lease-to-running", "Lease to running: one workspace on real libvirtd + QEMU", "make bench-lease", leaseBody);
        }

        return 0;
    case "overlay":
        var overlayRuns = int.Parse(Option("--runs") ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        var overlayBody = await OverlayBenchmark.RunAsync(overlayRuns);
        if (Option("--write") is { } overlayPath)
        {
            BenchmarkReport.Write(overlayPath, "overlay", "Root disk overlay creation on raw and qcow2 bases", "make bench-overlay", overlayBody);
        }

        return 0;
    case "metrics":
        var metricsWorkspaces = int.Parse(Option("--workspaces") ?? "100", System.Globalization.CultureInfo.InvariantCulture);
        var metricsRuns = int.Parse(Option("--runs") ?? "500", System.Globalization.CultureInfo.InvariantCulture);
        var metricsBody = MetricsBenchmark.Run(metricsWorkspaces, metricsRuns);
        if (Option("--write") is { } metricsPath)
        {
            BenchmarkReport.Write(metricsPath, "metrics", $"Agent /metrics render with {metricsWorkspaces} workspaces", "make bench-metrics", metricsBody);
        }

        return 0;
    case "metering":
        var meteringWorkspaces = int.Parse(Option("--workspaces") ?? "100", System.Globalization.CultureInfo.InvariantCulture);
        var meteringPasses = int.Parse(Option("--passes") ?? "200", System.Globalization.CultureInfo.InvariantCulture);
        var meteringWarmup = int.Parse(Option("--warmup") ?? "20", System.Globalization.CultureInfo.InvariantCulture);
        var meteringBody = MeteringBenchmark.Run(meteringWorkspaces, meteringPasses, meteringWarmup);
        if (Option("--write") is { } meteringPath)
        {
            BenchmarkReport.Write(meteringPath, "metering", $"One metering pass with {meteringWorkspaces} workspaces (test:///default)", "make bench-metering", meteringBody);
        }

        return 0;
    case "placement":
        // Each size is HOSTS or HOSTS:LIVE, LIVE being the leases placed (untimed) before the measured ones.
        var placementSizes = (Option("--hosts") ?? "100,1000,10000").Split(',').Select(size => size.Split(':') switch
        {
            [var hosts] => (int.Parse(hosts, System.Globalization.CultureInfo.InvariantCulture), 0),
            [var hosts, var live] => (int.Parse(hosts, System.Globalization.CultureInfo.InvariantCulture), int.Parse(live, System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw new ArgumentException($"--hosts: '{size}' is not HOSTS or HOSTS:LIVE_LEASES"),
        }).ToList();
        var placementLeases = int.Parse(Option("--leases") ?? "2000", System.Globalization.CultureInfo.InvariantCulture);
        var heartbeatSeconds = double.Parse(Option("--heartbeat-seconds") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        var postgres = (Option("--store") ?? "sqlite") switch
        {
            "sqlite" => false,
            "postgresql" => true,
            var store => throw new ArgumentException($"--store: '{store}' is not sqlite or postgresql"),
        };
        var replicas = int.Parse(Option("--replicas") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        var groupSize = int.Parse(Option("--group-size") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        var h2load = (Option("--client") ?? "grpc") switch
        {
            "grpc" => false,
            "h2load" => true,
            var client => throw new ArgumentException($"--client: '{client}' is not grpc (this process's gRPC client) or h2load (nghttp2's load generator)"),
        };
        var placementInFlights = (Option("--in-flight") ?? "64").Split(',').Select(n => int.TryParse(n, System.Globalization.CultureInfo.InvariantCulture, out var calls) && calls > 0
            ? calls : throw new ArgumentException($"--in-flight: '{n}' is not a number of calls above 0")).ToList();
        var placementBody = await PlacementBenchmark.RunAsync(
            placementSizes, placementLeases, TimeSpan.FromSeconds(heartbeatSeconds), Path.GetFullPath(Option("--scheduler") ?? "out/bin/nodeagent-scheduler"), postgres, replicas,
            int.Parse(Option("--runs") ?? "1", System.Globalization.CultureInfo.InvariantCulture), groupSize, h2load, placementInFlights);
        if (Option("--write") is { } placementPath)
        {
            var (section, title, make) = (postgres, groupSize, placementInFlights.Count) switch
            {
                (false, 1, > 1) => ("placement-load", "Scheduler placement rate and latency by calls in flight (SQLite)", "make bench-placement-load"),
                (true, _, _) => ($"placement-postgresql-{replicas}", $"Scheduler placement and heartbeat throughput by cluster size (PostgreSQL, {replicas} replica{(replicas == 1 ? "" : "s")})",
                    "make bench-placement-postgresql"),
                (false, > 1, _) => ("placement-groups", $"Scheduler placement throughput in groups of {groupSize} (SQLite)", "make bench-placement-groups"),
                _ => ("placement", "Scheduler placement and heartbeat throughput by cluster size (SQLite)", "make bench-placement"),
            };
            BenchmarkReport.Write(placementPath, section, title, make, placementBody);
        }

        return 0;
    case "placement-pairs":
        var pairSizes = (Option("--hosts") ?? "1000,10000").Split(',').Select(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (pairSizes.Length != 2)
        {
            throw new ArgumentException($"--hosts: '{Option("--hosts")}' is not two sizes, SMALL,LARGE");
        }

        var pairsBody = await PlacementBenchmark.RunPairsAsync(pairSizes[0], pairSizes[1],
            int.Parse(Option("--rounds") ?? "20", System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Option("--burst") ?? "8000", System.Globalization.CultureInfo.InvariantCulture),
            (Option("--scheduler") ?? "out/bin/nodeagent-scheduler").Split(',').Select(Path.GetFullPath).ToList());
        Console.WriteLine(pairsBody);
        if (Option("--write") is { } pairsPath)
        {
            BenchmarkReport.Write(pairsPath, "placement-pairs", $"Scheduler placement cost at {pairSizes[0]:N0} and {pairSizes[1]:N0} hosts, in alternating bursts (SQLite)", "make bench-placement-pairs", pairsBody);
        }

        return 0;
    case "sqlite-schema":
        var schemaBody = await SqliteSchemaBenchmark.RunAsync(Path.GetFullPath(Option("--scheduler") ?? "out/bin/nodeagent-scheduler"),
            int.Parse(Option("--hosts") ?? "10000", System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Option("--leases") ?? "40000", System.Globalization.CultureInfo.InvariantCulture));
        if (Option("--write") is { } schemaPath)
        {
            BenchmarkReport.Write(schemaPath, "sqlite-schema", "What SQLite spends on writing a lease, by part of the schema", "make bench-sqlite-schema", schemaBody);
        }

        return 0;
    case "startup":
        var startupRuns = int.Parse(Option("--runs") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        var startupBody = await StartupBenchmark.RunAsync(Path.GetFullPath(Option("--binaries") ?? "out/bin"), startupRuns);
        if (Option("--write") is { } startupPath)
        {
            BenchmarkReport.Write(startupPath, "startup", "Start-up to READY of the native-AOT programs", "make bench-startup", startupBody);
        }

        return 0;
    default:
        (command == "--help" ? Console.Out : Console.Error).WriteLine("usage: nodeagent-bench rpc [--in-flight N] [--seconds S] [--runs R] [--write FILE]\n       nodeagent-bench lease [--runs R] [--write FILE]\n       nodeagent-bench overlay [--runs R] [--write FILE]\n       nodeagent-bench metrics [--workspaces N] [--runs R] [--write FILE]\n       nodeagent-bench metering [--workspaces N] [--passes P] [--warmup W] [--write FILE]\n       nodeagent-bench startup [--binaries DIR] [--runs R] [--write FILE]\n       nodeagent-bench placement [--hosts N,N,…] [--leases N] [--group-size N] [--heartbeat-seconds S] [--store sqlite|postgresql] [--replicas N] [--runs R] [--client grpc|h2load] [--in-flight N,N,…] [--scheduler PROGRAM] [--write FILE]\n       nodeagent-bench placement-pairs [--hosts SMALL,LARGE] [--rounds R] [--burst N] [--scheduler PROGRAM[,PROGRAM]] [--write FILE]\n       nodeagent-bench sqlite-schema [--hosts N] [--leases N] [--scheduler PROGRAM] [--write FILE]");
        return command == "--help" ? 0 : 2;
}
