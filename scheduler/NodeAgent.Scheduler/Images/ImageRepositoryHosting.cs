using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// Puts the image repository into the scheduler's web application: its own Kestrel listener (plain HTTP/1.1, so curl,
/// wget and any HTTP library can fetch an image), the <see cref="ImageRepository"/> singleton, and the routing
/// middleware ahead of the gRPC server.
/// </summary>
public static class ImageRepositoryHosting
{
    /// <summary>Adds the listener (unless <see cref="SchedulerOptions.ImageListen"/> is null) and the services.</summary>
    public static void AddImageRepository(this WebApplicationBuilder builder, SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var listener = new ImageListener();
        if (options.ImageListen is { } address)
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address.Address, address.Port, listen =>
            {
                // HTTP/1.1 only: what curl, wget and every HTTP library speak by default. Kestrel cannot offer
                // cleartext HTTP/2 (prior knowledge) on an endpoint that also speaks HTTP/1.1.
                listen.Protocols = HttpProtocols.Http1;

                // Marks every connection of this listener, so routing never depends on comparing addresses.
                listen.Use(next => connection =>
                {
                    connection.Features.Set(ImageListenerConnection.Instance);
                    return next(connection);
                });
                listener.Options = listen;
            }));
        }

        builder.Services.AddSingleton(listener);
        builder.Services.AddSingleton<ImageRepository>();
        builder.Services.AddSingleton<ImageRepositoryEndpoint>();
    }

    /// <summary>Routes requests between the repository and what follows (the gRPC server); prepares the directory now, so a bad one stops the start.</summary>
    public static void UseImageRepository(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        _ = app.Services.GetRequiredService<ImageRepository>();
        var endpoint = app.Services.GetRequiredService<ImageRepositoryEndpoint>();
        app.Use(endpoint.RouteAsync);
    }
}

/// <summary>The image listener's Kestrel endpoint, whose port is the real one once Kestrel has bound it.</summary>
public sealed class ImageListener
{
    internal ListenOptions? Options { get; set; }

    /// <summary>The bound address (port 0 resolved), or null when there is no listener or it is not bound yet.</summary>
    public IPEndPoint? BoundEndPoint => Options?.IPEndPoint is { Port: > 0 } bound ? bound : null;

    /// <summary>True for a Kestrel address (as <c>IServerAddressesFeature</c> lists them) that is this listener's.</summary>
    public bool Owns(string address) =>
        BoundEndPoint is { } bound && Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port == bound.Port &&
        IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && ip.Equals(bound.Address);
}

/// <summary>The connection feature that marks a connection as accepted by the image listener.</summary>
internal sealed class ImageListenerConnection
{
    public static readonly ImageListenerConnection Instance = new();
}
