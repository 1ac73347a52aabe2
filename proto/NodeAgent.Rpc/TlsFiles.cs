using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NodeAgent.Rpc;

/// <summary>A certificate, key or CA file that cannot be used; the message names the file and what to do.</summary>
public sealed class TlsFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// PEM certificates, keys and certificate authorities from files, and checks of a peer's certificate against a CA of
/// the operator's own rather than the system's trust store.
/// </summary>
public static class TlsFiles
{
    /// <summary>The extended key usage of TLS client certificates (id-kp-clientAuth).</summary>
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>The extended key usage of TLS server certificates (id-kp-serverAuth).</summary>
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>A certificate (PEM, the first of the file; the rest may be its intermediates) with its private key (PEM).</summary>
    public static X509Certificate2 LoadCertificate(string certificateFile, string keyFile)
    {
        try
        {
            using var loaded = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
            // Through PKCS#12 so the key is usable by SslStream as a server's on every platform.
            return X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new TlsFileException(
                $"cannot load the certificate {certificateFile} with the key {keyFile}: {e.Message}; both must be PEM files, the key the certificate's own and unencrypted", e);
        }
    }

    /// <summary>Every certificate of a PEM file: the authorities peers' certificates must chain to.</summary>
    public static X509Certificate2Collection LoadAuthorities(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new TlsFileException($"cannot read the CA file {caFile}: {e.Message}; give a PEM file of one or more CA certificates", e);
        }

        return authorities.Count > 0
            ? authorities
            : throw new TlsFileException($"the CA file {caFile} holds no certificate; give a PEM file with -----BEGIN CERTIFICATE----- blocks");
    }

    /// <summary>Whether <paramref name="certificate"/> chains to one of <paramref name="authorities"/> and may be used for <paramref name="usage"/>.</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection authorities, string usage, X509Chain? presented = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usage));
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(certificate);
    }

    /// <summary>
    /// Checks a server's certificate against <paramref name="authorities"/> instead of the system's trust store. The name
    /// the client dialled must still be in the certificate (a subject alternative name).
    /// </summary>
    public static RemoteCertificateValidationCallback ServerValidator(X509Certificate2Collection authorities) =>
        (_, certificate, chain, errors) =>
            certificate is X509Certificate2 server &&
            (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None &&
            ChainsTo(server, authorities, ServerAuthentication, chain);
}

/// <summary>
/// A certificate and key from PEM files, read again when either file changes (a renewal), keeping the last good pair
/// when the new files cannot be loaded (e.g. one written and the other not yet).
/// </summary>
public sealed class CertificateFiles(string certificateFile, string keyFile)
{
    private readonly Lock _lock = new();
    private (DateTime Certificate, DateTime Key) _readAt;
    private X509Certificate2? _current;

    /// <summary>The certificate now; null until the files could be loaded once.</summary>
    public X509Certificate2? Current()
    {
        var stamps = (File.GetLastWriteTimeUtc(certificateFile), File.GetLastWriteTimeUtc(keyFile));
        lock (_lock)
        {
            if (stamps != _readAt)
            {
                try
                {
                    _current = TlsFiles.LoadCertificate(certificateFile, keyFile);
                    _readAt = stamps;
                }
                catch (TlsFileException) when (_current is not null)
                {
                    // Half-renewed files: keep presenting the last pair that loaded, and try again on the next handshake.
                }
                catch (TlsFileException)
                {
                    return null;
                }
            }

            return _current;
        }
    }
}
