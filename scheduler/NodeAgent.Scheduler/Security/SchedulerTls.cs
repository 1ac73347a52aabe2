using System.Security.Cryptography.X509Certificates;
using NodeAgent.Contract;
using NodeAgent.Rpc;

namespace NodeAgent.Scheduler.Security;

/// <summary>
/// The scheduler's TLS material: its certificate for https:// listen addresses, and the CA that agents' client
/// certificates must chain to (mutual TLS). Both are read again from their files on a reload (SIGHUP), so a renewed
/// certificate is served from the next handshake on; connections already open keep theirs.
/// </summary>
public sealed class SchedulerTls
{
    private volatile Material _material;

    public SchedulerTls(SchedulerOptions options) => _material = Load(options);

    /// <summary>The certificate served now; null when no https:// address is configured.</summary>
    public X509Certificate2? Certificate => _material.Certificate;

    /// <summary>Whether agents may authenticate with client certificates (a client CA is configured).</summary>
    public bool AsksForClientCertificates => _material.ClientAuthorities is not null;

    /// <summary>Reads the files again; on a problem throws <see cref="TlsFileException"/> and keeps serving what it had.</summary>
    public void Reload(SchedulerOptions options) => _material = Load(options);

    /// <summary>Every problem loading the files <paramref name="options"/> name, for the configuration's refusal.</summary>
    public static IReadOnlyList<string> Problems(SchedulerOptions options)
    {
        try
        {
            Load(options);
            return [];
        }
        catch (TlsFileException e)
        {
            return [e.Message];
        }
    }

    /// <summary>Whether a client's certificate is an agent's: it chains to the client CA, allows client authentication and names a valid host id.</summary>
    public bool AcceptsClient(X509Certificate2 certificate, X509Chain? chain) =>
        _material.ClientAuthorities is { } authorities &&
        TlsFiles.ChainsTo(certificate, authorities, TlsFiles.ClientAuthentication, chain) &&
        IdSyntax.IsValid(HostOf(certificate), out _);

    /// <summary>The host an agent's certificate is for: its subject's common name.</summary>
    public static string HostOf(X509Certificate2 certificate) => certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

    private static Material Load(SchedulerOptions options) => new(
        options.TlsCertificate is { } certificate ? TlsFiles.LoadCertificate(certificate, options.TlsKey ?? certificate) : null,
        options.ClientCa is { } ca ? TlsFiles.LoadAuthorities(ca) : null);

    private sealed record Material(X509Certificate2? Certificate, X509Certificate2Collection? ClientAuthorities);
}
