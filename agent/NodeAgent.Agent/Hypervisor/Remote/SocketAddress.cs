namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// Where a libvirt URI is served when the agent speaks libvirt's remote protocol itself: the daemon's unix socket,
/// and the URI to open there (without the transport and the client's own parameters, as libvirt's client sends it).
/// </summary>
internal sealed record SocketAddress(string SocketPath, string Name)
{
    /// <summary>The monolithic daemon's socket (libvirtd, or virtproxyd in front of the modular daemons).</summary>
    public const string DaemonSocket = "/run/libvirt/libvirt-sock";

    /// <summary>
    /// The socket address of <paramref name="uri"/>, or null when the URI is for libvirt's C library: a driver that
    /// runs inside the client (test:///default), a session daemon, or a remote transport (ssh, tls, tcp).
    /// Served by the socket: <c>DRIVER:///system</c> and <c>DRIVER+unix:///PATH</c>, with an optional <c>?socket=</c>.
    /// </summary>
    public static SocketAddress? Of(string uri, Func<string, bool>? socketExists = null)
    {
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Host.Length > 0 || parsed.UserInfo.Length > 0)
        {
            return null;
        }

        var scheme = parsed.Scheme;
        var plus = scheme.IndexOf('+', StringComparison.Ordinal);
        var driver = plus < 0 ? scheme : scheme[..plus];
        var transport = plus < 0 ? null : scheme[(plus + 1)..];
        var path = parsed.AbsolutePath;
        if (!(transport == "unix" || (transport is null && path == "/system")) || driver.Length == 0)
        {
            return null;
        }

        string? socket = null;
        var kept = new List<string>();
        foreach (var pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? pair : pair[..equals];
            if (key == "socket")
            {
                socket = System.Uri.UnescapeDataString(pair[(equals + 1)..]);
            }
            else if (key != "mode")
            {
                kept.Add(pair);
            }
        }

        var name = $"{driver}://{path}" + (kept.Count > 0 ? "?" + string.Join('&', kept) : "");
        return new SocketAddress(socket ?? DefaultSocket(driver, socketExists ?? File.Exists), name);
    }

    // As libvirt's client chooses: the driver's own daemon (virtqemud) when its socket is there, else libvirtd's.
    private static string DefaultSocket(string driver, Func<string, bool> exists)
    {
        var modular = $"/run/libvirt/virt{driver}d-sock";
        return exists(modular) ? modular : DaemonSocket;
    }
}
