using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Tests.Support;

/// <summary>A real Kestrel gRPC server on a free loopback port, serving whatever a test registers.</summary>
internal sealed class TestRpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestRpcServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<TestRpcServer> StartAsync(RpcServiceRegistry registry, RpcServerOptions? options = null, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ConfigureRpcLimits();
            if (certificate is null)
            {
                k.ListenRpc(RpcListenAddress.Parse("http://127.0.0.1:0"));
            }
            else
            {
                k.ListenRpc(RpcListenAddress.Parse("https://127.0.0.1:0"), () => certificate);
            }
        });
        var app = builder.Build();
        var server = new RpcServer(registry, options ?? new RpcServerOptions(), NullLogger<RpcServer>.Instance);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = NodeAgent.Scheduler.SchedulerApp.BoundAddresses(app).Single();
        return new TestRpcServer(app, new Uri(address));
    }

    public RpcChannel CreateChannel(RpcChannelOptions? options = null) => new(Address, options);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
