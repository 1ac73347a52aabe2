namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// <see cref="IHypervisor"/> over libvirtd's unix socket in libvirt's remote protocol, the protocol libvirt's own
/// client library speaks to the daemon: the same calls, the same errors, the same semantics as
/// <see cref="LibvirtHypervisor"/>, without loading libvirt's C library into the agent. Safe to call from several
/// threads at once: each call has its own serial number and waits for its own reply.
/// </summary>
public sealed partial class RemoteHypervisor : ILibvirtConnection
{
    /// <summary>How long a call may wait for libvirtd before the connection counts as lost (and is made again).</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(2);

    private readonly RemoteConnection _connection;
    private readonly GuestCapabilities _guest;
    private readonly Dictionary<int, Action<DomainEvent>> _watchers = [];
    private readonly Lock _watchLock = new();

    private RemoteHypervisor(RemoteConnection connection, string uri, GuestCapabilities guest, string reason)
    {
        _connection = connection;
        _guest = guest;
        Uri = uri;
        DomainTypeReason = reason;
        _connection.EventReceived = OnEvent;
    }

    public string Uri { get; }

    public string DomainType => _guest.DomainType;

    public string Architecture => _guest.Architecture;

    public string MachineType => _guest.MachineType;

    public string DomainTypeReason { get; }

    /// <summary>A plain connection does not recover; <see cref="ResilientHypervisor"/> does and reports its outages.</summary>
    public string? Unavailable => null;

    /// <summary>Connects to the daemon at <paramref name="address"/>, opens <paramref name="uri"/> there and reads the host's capabilities.</summary>
    /// <exception cref="LibvirtException">The daemon is not there, refuses the agent, or the host offers no guest for its architecture.</exception>
    internal static RemoteHypervisor Open(string uri, SocketAddress address, DomainTypePreference preference)
    {
        var connection = RemoteConnection.Connect(address.SocketPath, uri, CallTimeout);
        try
        {
            Authenticate(connection, uri);
            connection.Call(RemoteProtocol.ConnectOpen, new XdrWriter().OptionalString(address.Name).UInt(0), "virConnectOpen");
            var capabilities = new XdrReader(connection.Call(RemoteProtocol.ConnectGetCapabilities, null, "virConnectGetCapabilities")).String();
            var (guest, reason) = GuestChoice.Make(capabilities, arch => IsKvmUsable(connection, arch), preference, uri);
            return new RemoteHypervisor(connection, uri, guest, reason);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IDisposable OnConnectionClosed(Action<string> handler)
    {
        _connection.Closed += handler;
        if (_connection.ClosedBecause is { } why)
        {
            handler(why); // lost before the handler was there: it still hears of it
        }

        return new Unsubscribe(() => _connection.Closed -= handler);
    }

    public IDisposable WatchLifecycle(Action<DomainEvent> handler)
    {
        var args = new XdrWriter().Int(RemoteProtocol.EventIdLifecycle).Bool(false); // every domain
        var id = new XdrReader(_connection.Call(RemoteProtocol.ConnectDomainEventCallbackRegisterAny, args, "virConnectDomainEventRegisterAny")).Int();
        lock (_watchLock)
        {
            _watchers[id] = handler;
        }

        return new Unsubscribe(() =>
        {
            lock (_watchLock)
            {
                _watchers.Remove(id);
            }

            if (_connection.ClosedBecause is null)
            {
                try
                {
                    _connection.Call(RemoteProtocol.ConnectDomainEventCallbackDeregisterAny, new XdrWriter().Int(id), "virConnectDomainEventDeregisterAny");
                }
                catch (LibvirtException e) when (e.IsConnectionFailure)
                {
                    // The connection went meanwhile, and the daemon's registration with it.
                }
            }
        });
    }

    public void Dispose()
    {
        if (_connection.ClosedBecause is null)
        {
            _connection.Leave(RemoteProtocol.ConnectClose, "virConnectClose");
        }

        _connection.Dispose();
    }

    // libvirt's polkit check passes a root client through without asking polkit; the daemon answers the list with
    // "none" then. A daemon that wants SASL (or TLS on a socket) needs libvirt's C library: say so.
    private static void Authenticate(RemoteConnection connection, string uri)
    {
        var reader = new XdrReader(connection.Call(RemoteProtocol.AuthList, null, "virConnectOpen"));
        var count = reader.Count(4);
        var types = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            types.Add(reader.Int());
        }

        if (types.Count == 0 || types.Contains(RemoteProtocol.AuthNone))
        {
            return;
        }

        if (types.Contains(RemoteProtocol.AuthPolkit))
        {
            connection.Call(RemoteProtocol.AuthPolkitProcedure, null, "virConnectOpen");
            return;
        }

        throw new LibvirtException(LibvirtException.AuthUnavailableCode, RemoteProtocol.FromRemote, "virConnectOpen", null, uri,
            $"libvirtd asks for authentication of type {string.Join(", ", types)} (SASL), which the agent's socket client does not speak; run the agent as root, or allow its user with unix_sock_auth = \"none\" or polkit");
    }

    private static bool IsKvmUsable(RemoteConnection connection, string arch)
    {
        var args = new XdrWriter().OptionalString(null).OptionalString(arch).OptionalString(null).OptionalString("kvm").UInt(0);
        try
        {
            connection.Call(RemoteProtocol.ConnectGetDomainCapabilities, args, "virConnectGetDomainCapabilities");
            return true;
        }
        catch (LibvirtException e) when (!e.IsConnectionFailure)
        {
            return false;
        }
    }

    private void OnEvent(int procedure, ReadOnlyMemory<byte> body)
    {
        if (procedure != RemoteProtocol.DomainEventCallbackLifecycle)
        {
            return;
        }

        var reader = new XdrReader(body.Span);
        var id = reader.Int();
        var domain = RemoteDomain.Read(ref reader);
        var kind = reader.Int();
        var detail = reader.Int();
        Action<DomainEvent>? handler;
        lock (_watchLock)
        {
            _watchers.TryGetValue(id, out handler);
        }

        handler?.Invoke(new DomainEvent(domain.Name, (DomainEventKind)kind, detail));
    }

    private sealed class Unsubscribe(Action undo) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                undo();
            }
        }
    }
}
