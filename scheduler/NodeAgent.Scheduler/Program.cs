using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Systemd;
using NodeAgent.Service;

// The options, the configuration file and their binding are SchedulerCommandLine's; this file only wires the start.
var commandLine = new SchedulerCommandLine();
return await commandLine.Service.RunAsync(commandLine.Root, args, async configuration =>
{
    var service = commandLine.Service.Bind(configuration);
    var options = commandLine.Bind(configuration);
    if (configuration.Problems.Count > 0)
    {
        return await commandLine.Service.RefuseAsync(configuration.Problems);
    }

    if (configuration.Summary is { } summary)
    {
        Console.WriteLine("nodeagent-scheduler: " + summary);
    }

    var levels = new LogLevelSwitch(service.LogLevel);
    using var notifier = SystemdNotifier.FromEnvironment();
    var liveness = new Liveness(TimeProvider.System, WatchdogPinger.IntervalFromEnvironment());
    await using var app = SchedulerApp.Build(
        options,
        logging => ServiceLogging.Configure(logging, service.LogFormat, levels, commandLine.Service.Program),
        configureServices: services => SchedulerSystemd.Add(services, commandLine, configuration, levels, notifier, liveness));
    await app.StartAsync();
    foreach (var address in SchedulerApp.BoundAddresses(app))
    {
        Console.WriteLine($"nodeagent-scheduler listening on {address}");
    }

    Console.WriteLine($"nodeagent-scheduler store: {options.Database.Describe()}");
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
