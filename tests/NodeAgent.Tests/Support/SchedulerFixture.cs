using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using Microsoft.Extensions.DependencyInjection;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Images;

namespace NodeAgent.Tests.Support;

/// <summary>
/// The real scheduler, in process, on a free loopback port, with its SQLite file in a fresh directory; or, when
/// NODEAGENT_TEST_STORE is <c>postgresql</c> (<see cref="TestStore"/>), with a fresh database of its own on the test
/// PostgreSQL server, so every test that starts a scheduler runs against that engine too. Unless a
/// test asks for an empty catalogue, the catalogue holds the images scheduler-only tests lease
/// (<see cref="TestImages"/>): qcow2 images whose source is a file no agent fetches, so only a test with a
/// real agent must add images it can fetch.
/// </summary>
internal sealed class RunningScheduler : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly IDisposable? _database;

    private RunningScheduler(WebApplication app, Uri address, TempDirectory directory, IDisposable? database)
    {
        _app = app;
        Address = address;
        Directory = directory;
        _database = database;
    }

    public Uri Address { get; }

    public TempDirectory Directory { get; }

    public static readonly IReadOnlyList<string> TestImages = ["debian-12", "tiny", "x"];

    public static async Task<RunningScheduler> StartAsync(Func<SchedulerOptions, SchedulerOptions>? configure = null, TimeProvider? time = null, bool emptyCatalogue = false)
    {
        var directory = new TempDirectory();
        var postgres = TestStore.Postgres ? new Postgres.PostgresTestDatabase() : null;
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:0")],
            ImageListen = RpcListenAddress.Parse("http://127.0.0.1:0"),
            DatabasePath = postgres?.ConnectionString ?? Path.Combine(directory.Path, "scheduler.db"),
            ImageRepositoryPath = Path.Combine(directory.Path, "images"),
            // These tests are about what the API does, not who may call it: callers name themselves, as with
            // --auth none. Security/ runs the scheduler with tokens (configure sets Auth = Token).
            Auth = NodeAgent.Scheduler.Security.AuthMode.None,
        };
        options = configure?.Invoke(options) ?? options;
        WebApplication app;
        try
        {
            app = SchedulerApp.Build(options, logging => logging.ClearProviders(), time);
            await app.StartAsync();
        }
        catch
        {
            postgres?.Dispose();
            directory.Dispose();
            throw;
        }

        if (!emptyCatalogue)
        {
            var catalogue = app.Services.GetRequiredService<ImageCatalogue>();
            foreach (var name in TestImages)
            {
                var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)));
                await catalogue.AddAsync(new NewImage(name, ImageFormat.Qcow2, 0, digest, $"file:///nonexistent/{name}.qcow2", "admin"));
            }
        }

        return new RunningScheduler(app, new Uri(SchedulerApp.BoundAddresses(app).Single()), directory, postgres);
    }

    public RpcChannel CreateChannel() => new(Address);

    /// <summary>One of the scheduler's own services, to drive a duty (expiry, a queue pass) at a moment the test chooses.</summary>
    public T Service<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>The scheduler's image repository (enabled on a free loopback port unless the test turned it off).</summary>
    public ImageRepository Repository => _app.Services.GetRequiredService<ImageRepository>();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _database?.Dispose();
        Directory.Dispose();
    }
}

/// <summary>
/// Which engine the scheduler's store runs on in this test run: SQLite unless NODEAGENT_TEST_STORE is <c>postgresql</c>
/// (`make test` runs the scheduler's tests once more that way).
/// </summary>
internal static class TestStore
{
    public const string Variable = "NODEAGENT_TEST_STORE";

    public static bool Postgres { get; } = Environment.GetEnvironmentVariable(Variable) switch
    {
        null or "" or "sqlite" => false,
        "postgresql" => true,
        var other => throw new InvalidOperationException($"{Variable}={other} is not an engine the tests know: use sqlite or postgresql"),
    };
}

/// <summary>A directory removed with everything in it when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => System.IO.Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nodeagent-test-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
