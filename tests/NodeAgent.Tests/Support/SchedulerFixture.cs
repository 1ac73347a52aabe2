using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;

namespace NodeAgent.Tests.Support;

/// <summary>The real scheduler, in process, on a free loopback port, with its SQLite file in a fresh directory.</summary>
internal sealed class RunningScheduler : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningScheduler(WebApplication app, Uri address, TempDirectory directory)
    {
        _app = app;
        Address = address;
        Directory = directory;
    }

    public Uri Address { get; }

    public TempDirectory Directory { get; }

    public static async Task<RunningScheduler> StartAsync(Func<SchedulerOptions, SchedulerOptions>? configure = null, TimeProvider? time = null)
    {
        var directory = new TempDirectory();
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:0")],
            ImageListen = RpcListenAddress.Parse("http://127.0.0.1:0"),
            DatabasePath = Path.Combine(directory.Path, "scheduler.db"),
        };
        options = configure?.Invoke(options) ?? options;
        var app = SchedulerApp.Build(options, logging => logging.ClearProviders(), time);
        await app.StartAsync();
        return new RunningScheduler(app, new Uri(SchedulerApp.BoundAddresses(app).Single()), directory);
    }

    public RpcChannel CreateChannel() => new(Address);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Dispose();
    }
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
