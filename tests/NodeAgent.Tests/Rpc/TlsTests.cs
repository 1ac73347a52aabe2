using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Rpc;

/// <summary>The TLS endpoint: HTTP/2 negotiated with ALPN, server certificate checked by the client.</summary>
public sealed class TlsTests
{
    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    [Fact(Timeout = 15_000)]
    public async Task Unary_OverTlsWithTrustedCertificate_Succeeds()
    {
        using var certificate = SelfSigned();
        await using var server = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(new EchoService()), certificate: certificate);
        Assert.Equal("https", server.Address.Scheme);
        using var channel = server.CreateChannel(new RpcChannelOptions
        {
            ServerCertificateValidation = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
        });

        var host = await channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "over-tls" });

        Assert.Equal("over-tls", host.Info.HostId);
    }

    [Fact(Timeout = 15_000)]
    public async Task Unary_OverTlsWithUntrustedCertificate_Unavailable()
    {
        using var certificate = SelfSigned();
        await using var server = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(new EchoService()), certificate: certificate);
        using var channel = server.CreateChannel();

        var error = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "x" }));

        Assert.Equal(StatusCode.Unavailable, error.Status);
        Assert.Contains("TLS handshake", error.Message, StringComparison.Ordinal);
        Assert.Contains("private CA", error.Message, StringComparison.Ordinal);
    }
}
