using NodeAgent.Agent.Hypervisor.Remote;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>Opens the agent's libvirt connection the lightest way the URI allows.</summary>
public static class Libvirt
{
    /// <summary>
    /// A URI served by a local daemon's unix socket (<c>qemu:///system</c>, <c>DRIVER+unix:///PATH</c>) is spoken to
    /// in libvirt's remote protocol by <see cref="RemoteHypervisor"/>, without loading libvirt's C library and the
    /// libraries it pulls in (GnuTLS, libxml2, GLib, …). Every other URI goes through the C library
    /// (<see cref="LibvirtHypervisor"/>): drivers that run inside the client (test:///default), session daemons,
    /// and remote transports (ssh, tls, tcp).
    /// </summary>
    /// <exception cref="LibvirtException">The connection failed; the message names the URI and what to check.</exception>
    public static ILibvirtConnection Open(string uri, DomainTypePreference preference = DomainTypePreference.Auto)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        return SocketAddress.Of(uri) is { } address
            ? RemoteHypervisor.Open(uri, address, preference)
            : LibvirtHypervisor.Open(uri, preference);
    }
}
