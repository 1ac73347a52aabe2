using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Metrics;

namespace NodeAgent.Agent.Metrics;

/// <summary>
/// Serves the agent's <c>/metrics</c> on <see cref="AgentOptions.MetricsListen"/> with the small socket responder
/// (no Kestrel in the agent); nothing when that is null (--metrics-listen none).
/// </summary>
public sealed partial class MetricsEndpoint(AgentOptions options, MetricsRegistry registry, ILogger<MetricsEndpoint> logger) : IHostedService, IAsyncDisposable
{
    private MetricsHttpServer? _server;

    /// <summary>The bound address (port 0 resolved) once started; null when metrics are off.</summary>
    public IPEndPoint? EndPoint => _server?.EndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.MetricsListen is not { } address)
        {
            return Task.CompletedTask;
        }

        var server = new MetricsHttpServer(address, registry.RenderUtf8);
        try
        {
            server.Start();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"--metrics-listen {address}: cannot listen there ({e.SocketErrorCode}: {e.Message}); choose a free port, or none to turn metrics off", e);
        }

        _server = server;
        LogListening(logger, server.EndPoint);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _server, null) is { } server)
        {
            await server.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Serving Prometheus metrics at http://{EndPoint}/metrics")]
    private static partial void LogListening(ILogger logger, IPEndPoint endPoint);
}
