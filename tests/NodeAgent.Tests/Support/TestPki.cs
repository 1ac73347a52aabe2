using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NodeAgent.Tests.Support;

/// <summary>
/// A certificate authority of a test's own, and certificates it issues, written as PEM files the way an operator's
/// CA hands them out: the scheduler's server certificate and agents' client certificates.
/// </summary>
internal sealed class TestPki : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly X509Certificate2 _authority;
    private readonly ECDsa _authorityKey;
    private int _serial;

    public TestPki(string name = "NodeAgent test CA")
    {
        _authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _authorityKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CaFile = Path.Combine(_directory.Path, "ca.pem");
        File.WriteAllText(CaFile, _authority.ExportCertificatePem());
    }

    /// <summary>The CA's certificate, as a PEM file.</summary>
    public string CaFile { get; }

    /// <summary>A server certificate for 127.0.0.1 and localhost, written to NAME.pem and NAME.key.</summary>
    public (string Certificate, string Key) Server(string name = "server") =>
        Issue(name, "CN=nodeagent-scheduler", TlsUsage.Server, san =>
        {
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
        });

    /// <summary>A client certificate whose common name is <paramref name="commonName"/> (an agent's: its host id).</summary>
    public (string Certificate, string Key) Client(string commonName, bool clientAuthentication = true) =>
        Issue("client-" + commonName, $"CN={commonName}", clientAuthentication ? TlsUsage.Client : TlsUsage.Server, _ => { });

    public void Dispose()
    {
        _authority.Dispose();
        _authorityKey.Dispose();
        _directory.Dispose();
    }

    private enum TlsUsage
    {
        Server,
        Client,
    }

    private (string Certificate, string Key) Issue(string name, string subject, TlsUsage usage, Action<SubjectAlternativeNameBuilder> names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(usage == TlsUsage.Server ? NodeAgent.Rpc.TlsFiles.ServerAuthentication : NodeAgent.Rpc.TlsFiles.ClientAuthentication)], false));
        var san = new SubjectAlternativeNameBuilder();
        names(san);
        if (usage == TlsUsage.Server)
        {
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial) + 1000);
        using var issued = request.Create(_authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        var certificate = Path.Combine(_directory.Path, name + ".pem");
        var keyFile = Path.Combine(_directory.Path, name + ".key");
        File.WriteAllText(certificate, issued.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certificate, keyFile);
    }
}
