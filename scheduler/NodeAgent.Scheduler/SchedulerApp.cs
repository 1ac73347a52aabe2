using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Api;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Metrics;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Scheduler.Quotas;
using NodeAgent.Scheduler.Store;
using NodeAgent.Scheduler.Usage;

namespace NodeAgent.Scheduler;

/// <summary>Wires the scheduler: store, registries, the gRPC services, and Kestrel's endpoints.</summary>
public static class SchedulerApp
{
    /// <summary>Builds the app; <paramref name="time"/> and <paramref name="random"/> (where MACs come from) are the system's unless a test passes its own.</summary>
    /// <param name="configureServices">Adds services of the program's own (systemd notifications, reload); runs after the scheduler's are added.</param>
    public static WebApplication Build(SchedulerOptions options, Action<ILoggingBuilder>? configureLogging = null, TimeProvider? time = null, Random? random = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("invalid configuration:\n  " + string.Join("\n  ", problems));
        }

        var tls = new Security.SchedulerTls(options);
        // The scheduler has no appsettings.json. Without this the host would watch its working directory (under systemd
        // the state directory, where the database is) recursively for one to appear, and wake on every database write.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureRpcLimits();
            foreach (var address in options.Listen)
            {
                kestrel.ListenRpc(address, () => tls.Certificate, https =>
                {
                    // Asked for on every connection when a client CA is set; ws connects without one and uses its token.
                    https.ClientCertificateMode = tls.AsksForClientCertificates
                        ? Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate
                        : Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.NoCertificate;
                    https.ClientCertificateValidation = (certificate, chain, _) => tls.AcceptsClient(certificate, chain);
                });
            }
        });
        builder.AddImageRepository(options);
        configureLogging?.Invoke(builder.Logging);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(tls);
        services.AddSingleton(time ?? TimeProvider.System);
        AddDatabase(services, options.Database);
        services.AddSingleton<IHostStore, HostStore>();
        services.AddSingleton<HostRegistry>();
        services.AddSingleton<ILeaseStore, LeaseStore>();
        services.AddSingleton(PlacementPipeline.FromOptions(options.Placement));
        services.AddSingleton(new AddressAllocator(options, random ?? new Random()));
        services.AddSingleton(_ => new NodeAgent.Metrics.MetricsRegistry());
        services.AddSingleton<SchedulerMetrics>();
        services.AddSingleton<SchedulerStateCollector>();
        services.AddSingleton<MetricsRoute>();
        services.AddSingleton(new LeaseExpiryPolicy(options.ExpiryWarning, options.ExpiryGrace));
        services.AddSingleton<QuotaAdmission>().AddSingleton<ILeaseAdmission>(provider => provider.GetRequiredService<QuotaAdmission>());
        services.AddSingleton<IQuotaStore, QuotaStore>().AddSingleton<QuotaBook>();
        services.AddSingleton<LeaseManager>();
        // Registered before the duties, so it stops after them and then gives its term up.
        services.AddSingleton<Replicas.Leadership>().AddHostedService(provider => provider.GetRequiredService<Replicas.Leadership>());
        services.AddHostedService<ExpiryService>();
        services.AddSingleton<DrainMonitor>().AddHostedService(provider => provider.GetRequiredService<DrainMonitor>());
        services.AddHostedService<QueueService>();
        services.AddSingleton<IImageStore, ImageStore>().AddSingleton<ImageCatalogue>();
        services.AddSingleton<IUsageStore, UsageStore>().AddSingleton<UsageLedger>();
        services.AddSingleton<ITokenStore, TokenStore>();
        services.AddSingleton(provider => new Security.TokenBook(
            provider.GetRequiredService<ITokenStore>(), provider.GetRequiredService<TimeProvider>(), System.Security.Cryptography.RandomNumberGenerator.Create()));
        if (options.Auth == Security.AuthMode.Token)
        {
            services.AddHostedService<Security.AdminTokenBootstrap>();
        }

        services.AddSingleton<SecretStore>();
        services.AddSingleton(provider => new Security.ImageGrants(
            provider.GetRequiredService<SecretStore>().GetOrCreateAsync(Security.ImageGrants.KeyName, () => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))
                .GetAwaiter().GetResult(),
            provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new Security.ImageAccess(
            options.Auth, provider.GetRequiredService<Security.TokenBook>(), provider.GetRequiredService<Security.ImageGrants>()));
        services.AddSingleton<ILeaseImages>(provider =>
        {
            var repository = provider.GetRequiredService<ImageRepository>();
            return new LeaseImages(provider.GetRequiredService<ImageCatalogue>(), () => repository.PublicUrl, repository.Contains);
        });
        services.AddSingleton(provider =>
        {
            var hosts = provider.GetRequiredService<HostRegistry>();
            var leases = provider.GetRequiredService<LeaseManager>();
            var repository = provider.GetRequiredService<ImageRepository>();
            var registry = new RpcServiceRegistry()
                .Add(new AgentApi(hosts, leases, new RepositoryUrls(() => repository.PublicUrl?.AbsoluteUri ?? string.Empty, provider.GetRequiredService<Security.ImageGrants>())))
                .Add(new HostApi(hosts, provider.GetRequiredService<TimeProvider>()))
                .Add(new LeaseApi(leases))
                .Add(new ImageApi(provider.GetRequiredService<ImageCatalogue>(), () => repository.PublicUrl?.AbsoluteUri))
                .Add(new UsageApi(provider.GetRequiredService<UsageLedger>(), ProjectOf(leases)))
                .Add(new TokenApi(provider.GetRequiredService<Security.TokenBook>()))
                .Add(new QuotaApi(provider.GetRequiredService<QuotaBook>()));
            var metrics = provider.GetRequiredService<SchedulerMetrics>();
            var gate = new Security.ApiGate(options.Auth, provider.GetRequiredService<Security.TokenBook>(), tls);
            var rpcOptions = new RpcServerOptions { ExceptionMapper = ErrorMapping.ToStatus, Observer = metrics, Gate = gate };
            var server = new RpcServer(registry, rpcOptions, provider.GetRequiredService<ILogger<RpcServer>>());
            metrics.UseMethods(server.Methods);
            return server;
        });

        configureServices?.Invoke(services);
        // The expiry loop marks its progress here; without systemd's watchdog nothing reads it.
        services.TryAddSingleton(provider => new NodeAgent.Service.Liveness(provider.GetRequiredService<TimeProvider>()));
        var app = builder.Build();
        var rpc = app.Services.GetRequiredService<RpcServer>();
        _ = app.Services.GetRequiredService<SchedulerStateCollector>(); // adds its families to the registry
        app.Services.GetRequiredService<IStoreDatabase>().Commits = app.Services.GetRequiredService<SchedulerMetrics>();
        app.Use(app.Services.GetRequiredService<MetricsRoute>().RouteAsync);
        app.UseImageRepository();
        app.Run(rpc.HandleAsync);
        return app;
    }

    /// <summary>The project of a lease by its id, or null when there is no such lease: usage is charged where the lease counts.</summary>
    private static Func<string, string?> ProjectOf(LeaseManager leases) => id =>
    {
        if (!Domain.LeaseId.TryParse(id, out var lease, out _))
        {
            return null;
        }

        try
        {
            return leases.Get(lease).Project;
        }
        catch (LeaseNotFoundException)
        {
            return null;
        }
    };

    /// <summary>The store's database (SQLite or PostgreSQL, as --database says), and who holds the background duties in it.</summary>
    private static void AddDatabase(IServiceCollection services, DatabaseLocation location)
    {
        if (location is DatabaseLocation.PostgresServer server)
        {
            services.AddSingleton(_ => new Store.Postgres.PostgresDatabase(server.ConnectionString));
            services.AddSingleton<IStoreDatabase>(provider => provider.GetRequiredService<Store.Postgres.PostgresDatabase>());
            services.AddSingleton<ILeadershipStore, Store.Postgres.PostgresLeadershipStore>();
            return;
        }

        var file = (DatabaseLocation.SqliteFile)location;
        services.AddSingleton(_ => new SqliteDatabase(file.Path));
        services.AddSingleton<IStoreDatabase>(provider => provider.GetRequiredService<SqliteDatabase>());
        services.AddSingleton<ILeadershipStore, SqliteLeadershipStore>();
    }

    /// <summary>The gRPC addresses Kestrel really bound (port 0 resolved), once the app has started; the image listener's is <see cref="ImageRepository.PublicUrl"/>.</summary>
    public static IReadOnlyList<string> BoundAddresses(WebApplication app)
    {
        var images = app.Services.GetService<ImageListener>();
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Where(a => images?.Owns(a) != true).ToList() ?? [];
    }
}
