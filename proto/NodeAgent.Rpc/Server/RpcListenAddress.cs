using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace NodeAgent.Rpc.Server;

/// <summary>
/// Where a server listens for gRPC: <c>http://ADDRESS:PORT</c> for h2c (HTTP/2 without TLS, prior knowledge)
/// or <c>https://ADDRESS:PORT</c> for TLS with ALPN. Port 0 picks a free port.
/// </summary>
public sealed record RpcListenAddress(IPAddress Address, int Port, bool Tls)
{
    public static RpcListenAddress Parse(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ||
            uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query))
        {
            throw new FormatException($"listen address '{value}' is not of the form http://ADDRESS:PORT or https://ADDRESS:PORT");
        }

        var host = uri.Host.Trim('[', ']');
        IPAddress address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "+" => IPAddress.Any,
            _ => IPAddress.TryParse(host, out var ip) ? ip : throw new FormatException($"listen address '{value}' must name an IP address, not the host name '{host}'"),
        };
        return new RpcListenAddress(address, uri.Port, uri.Scheme == "https");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Tls ? "https" : "http")}://{(Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString())}:{Port}");
}

/// <summary>Configures Kestrel endpoints the way gRPC needs them.</summary>
public static class KestrelRpcExtensions
{
    /// <summary>
    /// Listens for gRPC. Cleartext endpoints speak HTTP/2 only (Kestrel rejects prior-knowledge HTTP/2 on a
    /// cleartext endpoint that also allows HTTP/1.1); TLS endpoints negotiate h2 with ALPN.
    /// </summary>
    /// <param name="https">Further TLS settings of TLS endpoints, e.g. how client certificates are asked for and checked.</param>
    public static void ListenRpc(
        this KestrelServerOptions options, RpcListenAddress address, Func<X509Certificate2?>? certificate = null,
        Action<Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions>? https = null)
    {
        options.Listen(address.Address, address.Port, listen =>
        {
            if (!address.Tls)
            {
                listen.Protocols = HttpProtocols.Http2;
                return;
            }

            listen.Protocols = HttpProtocols.Http1AndHttp2;
            var select = certificate ?? throw new InvalidOperationException($"{address} is a TLS endpoint but no certificate is configured");
            listen.UseHttps(tls =>
            {
                tls.ServerCertificateSelector = (_, _) => select();
                https?.Invoke(tls);
            });
        });
    }

    /// <summary>Limits every gRPC server of NodeAgent shares: keep-alive pings find dead peers on idle streams.</summary>
    public static void ConfigureRpcLimits(this KestrelServerOptions options)
    {
        options.AddServerHeader = false;
        options.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(20);
        options.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
        options.Limits.Http2.MaxStreamsPerConnection = 256;
    }
}
