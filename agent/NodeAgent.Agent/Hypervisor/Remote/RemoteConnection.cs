using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;

namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// One connection to libvirtd's unix socket, speaking libvirt's remote protocol: calls with a serial number,
/// replies matched to them, and the daemon's event messages handed to <see cref="EventReceived"/>. One thread
/// reads the socket; callers block on their reply, as they would in libvirt's C library. A broken peer or a
/// lost socket fails every waiting call with a connection error, and <see cref="Closed"/> fires once.
/// </summary>
internal sealed class RemoteConnection : IDisposable
{
    private const int LengthSize = 4;
    private const int HeaderSize = 24;
    private const string ClosedByAgent = "the connection was closed by the agent";

    private readonly Socket _socket;
    private readonly string _uri;
    private readonly TimeSpan _callTimeout;
    private readonly Lock _sendLock = new();
    private readonly ConcurrentDictionary<uint, PendingCall> _pending = new();
    private readonly Thread _reader;
    private uint _serial;
    private string? _closedBecause;
    private bool _leaving;

    private RemoteConnection(Socket socket, string uri, TimeSpan callTimeout)
    {
        _socket = socket;
        _uri = uri;
        _callTimeout = callTimeout;
        // Blocking reads on a thread of its own, so replies arrive even when every thread-pool thread waits on one.
        _reader = new Thread(ReadLoop, maxStackSize: 256 * 1024) { IsBackground = true, Name = "libvirt-socket" };
    }

    /// <summary>A lifecycle (or other) event message from the daemon: procedure and body. Runs on the reader thread: return quickly.</summary>
    public Action<int, ReadOnlyMemory<byte>>? EventReceived { get; set; }

    /// <summary>Fires once, with the reason, when the connection is lost or closed.</summary>
    public event Action<string>? Closed;

    /// <summary>Why the connection is closed, or null while it is open.</summary>
    public string? ClosedBecause => Volatile.Read(ref _closedBecause);

    /// <exception cref="LibvirtException">Nobody listens at <paramref name="socketPath"/> (libvirtd is not running) or the agent may not connect to it.</exception>
    public static RemoteConnection Connect(string socketPath, string uri, TimeSpan callTimeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            var code = e.SocketErrorCode is SocketError.AccessDenied ? LibvirtException.AccessDeniedCode : LibvirtException.NoConnectCode;
            throw new LibvirtException(code, RemoteProtocol.FromRpc, "virConnectOpen", null, uri,
                $"cannot connect to libvirtd's socket {socketPath}: {e.Message}");
        }

        var connection = new RemoteConnection(socket, uri, callTimeout);
        connection._reader.Start();
        return connection;
    }

    /// <summary>
    /// Calls <paramref name="procedure"/> of libvirt's remote program with the XDR body <paramref name="args"/>
    /// (null: none) and returns the reply body. A failed call throws libvirt's own error, naming
    /// <paramref name="operation"/> (the C API function it stands for) and <paramref name="domainName"/>.
    /// </summary>
    public byte[] Call(int procedure, XdrWriter? args, string operation, string? domainName = null)
    {
        var serial = Interlocked.Increment(ref _serial);
        var call = new PendingCall();
        _pending[serial] = call;
        try
        {
            // Closed before the call was registered: Close completed the calls it found, not this one.
            if (ClosedBecause is not null)
            {
                throw Lost(operation, domainName);
            }

            Send(RemoteProtocol.Program, RemoteProtocol.ProgramVersion, procedure, RemoteProtocol.TypeCall, serial, args);
            if (!call.Done.Wait(_callTimeout))
            {
                // A daemon that does not answer within the timeout is as good as gone: close, so the agent reconnects.
                Close($"libvirtd did not answer {operation} within {_callTimeout.TotalSeconds:0} s");
            }
        }
        finally
        {
            _pending.TryRemove(serial, out _);
        }

        if (call.Body is null)
        {
            throw Lost(operation, domainName);
        }

        if (call.Status == RemoteProtocol.StatusOk)
        {
            return call.Body;
        }

        throw RemoteError.Read(call.Body, operation, domainName, _uri);
    }

    public void Dispose() => Close(ClosedByAgent);

    /// <summary>
    /// Makes the call that ends the session (<paramref name="procedure"/>, virConnectClose), then closes. The daemon
    /// may hang up as soon as it has answered; that, too, counts as the agent's own close.
    /// </summary>
    public void Leave(int procedure, string operation)
    {
        Volatile.Write(ref _leaving, true);
        try
        {
            Call(procedure, null, operation);
        }
        catch (LibvirtException)
        {
            // Closing anyway: the socket goes with the connection.
        }
        finally
        {
            Dispose();
        }
    }

    private void Send(uint program, uint version, int procedure, int type, uint serial, XdrWriter? body)
    {
        var bodyLength = body?.Length ?? 0;
        var frame = new byte[LengthSize + HeaderSize + bodyLength];
        var span = frame.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)frame.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], program);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], version);
        BinaryPrimitives.WriteInt32BigEndian(span[12..], procedure);
        BinaryPrimitives.WriteInt32BigEndian(span[16..], type);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], serial);
        BinaryPrimitives.WriteInt32BigEndian(span[24..], RemoteProtocol.StatusOk);
        body?.Written.CopyTo(span[(LengthSize + HeaderSize)..]);
        if (frame.Length > RemoteProtocol.MaxMessageLength)
        {
            throw new LibvirtException(LibvirtException.InvalidArgumentCode, "virNetMessageEncode", null, _uri,
                $"the call is {frame.Length} bytes, more than libvirt's limit of {RemoteProtocol.MaxMessageLength} bytes per message");
        }

        lock (_sendLock)
        {
            try
            {
                if (ClosedBecause is null)
                {
                    _socket.Send(frame);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Close($"writing to libvirtd failed: {e.Message}");
            }
        }
    }

    private void ReadLoop()
    {
        var header = new byte[LengthSize + HeaderSize];
        try
        {
            while (true)
            {
                // The length first, checked before anything else is read, so a peer that is not libvirtd is found out at once.
                if (!ReadExactly(header.AsSpan(0, LengthSize)))
                {
                    Close("libvirtd closed the connection");
                    return;
                }

                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (length < LengthSize + HeaderSize || length > RemoteProtocol.MaxMessageLength)
                {
                    Close($"libvirtd sent a message of {length} bytes, outside 28..{RemoteProtocol.MaxMessageLength}: not libvirt's remote protocol");
                    return;
                }

                var body = new byte[length - LengthSize - HeaderSize];
                if (!ReadExactly(header.AsSpan(LengthSize)) || !ReadExactly(body))
                {
                    Close("libvirtd closed the connection in the middle of a message");
                    return;
                }

                Dispatch(header.AsSpan(LengthSize), body);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or FormatException)
        {
            Close($"reading from libvirtd failed: {e.Message}");
        }
    }

    private void Dispatch(ReadOnlySpan<byte> header, byte[] body)
    {
        var program = BinaryPrimitives.ReadUInt32BigEndian(header);
        var procedure = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        var type = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        var serial = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        var status = BinaryPrimitives.ReadInt32BigEndian(header[20..]);
        if (program == RemoteProtocol.KeepaliveProgram && procedure == RemoteProtocol.KeepalivePing)
        {
            Send(RemoteProtocol.KeepaliveProgram, RemoteProtocol.KeepaliveVersion, RemoteProtocol.KeepalivePong, RemoteProtocol.TypeMessage, 0, null);
            return;
        }

        if (program != RemoteProtocol.Program)
        {
            return; // another program's message (keepalive pong): nothing waits for it
        }

        if (type == RemoteProtocol.TypeReply && _pending.TryGetValue(serial, out var call))
        {
            call.Complete(status, body);
        }
        else if (type == RemoteProtocol.TypeMessage)
        {
            try
            {
                EventReceived?.Invoke(procedure, body);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A handler's failure must not stop the reader; the periodic reconcile catches a lost event.
            }
        }
    }

    private bool ReadExactly(Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var count = _socket.Receive(buffer[read..]);
            if (count == 0)
            {
                return false;
            }

            read += count;
        }

        return true;
    }

    private void Close(string why)
    {
        if (Volatile.Read(ref _leaving))
        {
            why = ClosedByAgent;
        }

        if (Interlocked.CompareExchange(ref _closedBecause, why, null) is not null)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already broken: nothing to shut down.
        }

        _socket.Dispose();
        foreach (var call in _pending.Values)
        {
            call.Complete(RemoteProtocol.StatusError, null);
        }

        Closed?.Invoke(why);
    }

    private LibvirtException Lost(string operation, string? domainName) =>
        new(LibvirtException.RpcCode, RemoteProtocol.FromRpc, operation, domainName, _uri,
            $"the connection to libvirtd is lost: {ClosedBecause ?? "closed"}");

    private sealed class PendingCall
    {
        public ManualResetEventSlim Done { get; } = new(false);

        public int Status { get; private set; }

        public byte[]? Body { get; private set; }

        public void Complete(int status, byte[]? body)
        {
            Status = status;
            Body = body;
            Done.Set();
        }
    }
}
