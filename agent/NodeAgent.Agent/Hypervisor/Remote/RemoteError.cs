namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>libvirt's error as the daemon sends it in a failed reply (virNetMessageError), made a <see cref="LibvirtException"/>.</summary>
internal static class RemoteError
{
    /// <summary>Reads code, error domain and message; the fields after them (level, the domain, str1..3, ...) are not needed.</summary>
    public static LibvirtException Read(byte[] body, string operation, string? domainName, string uri)
    {
        try
        {
            var reader = new XdrReader(body);
            var code = reader.Int();
            var errorDomain = reader.Int();
            var message = reader.OptionalString() ?? "libvirtd reported an error without a message";
            return new LibvirtException(code, errorDomain, operation, domainName, uri, message);
        }
        catch (FormatException e)
        {
            return new LibvirtException(LibvirtException.RpcCode, RemoteProtocol.FromRpc, operation, domainName, uri,
                $"libvirtd's error reply does not decode ({e.Message})");
        }
    }
}
