using System.Net.Sockets;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Hypervisor.Remote;
using NodeAgent.Tests.EndToEnd;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>
/// The contract through the agent's own remote-protocol client, against the test driver inside the real libvirtd
/// (test+unix:///default: the daemon opens test:///default for this connection); and what only the socket client does.
/// In the real-libvirtd collection, so no test that kills libvirtd runs meanwhile.
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class RemoteHypervisorTests : LibvirtContractTests
{
    protected override string TestUri => "test+unix:///default";

    protected override ILibvirtConnection Open() => Libvirt.Open(TestUri);

    [Fact]
    public void Open_SystemAndUnixUris_SpokenToOverTheSocket()
    {
        Assert.IsType<RemoteHypervisor>(Hypervisor, exactMatch: true);
        using var system = Libvirt.Open("qemu:///system");
        Assert.IsType<RemoteHypervisor>(system, exactMatch: true);
        Assert.Contains(system.DomainType, new[] { "kvm", "qemu" });
        Assert.StartsWith("pc-", system.MachineType, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DaemonSocketMissing_LibvirtExceptionSaysStartLibvirtd()
    {
        var uri = $"qemu:///system?socket=/nonexistent-{Guid.NewGuid():N}/libvirt-sock";

        var error = Assert.Throws<LibvirtException>(() => Libvirt.Open(uri));

        Assert.True(error.IsConnectionFailure);
        Assert.Equal("virConnectOpen", error.Operation);
        Assert.Contains(uri, error.Message, StringComparison.Ordinal);
        Assert.Contains("is libvirtd running?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DriverTheDaemonLacks_LibvirtsOwnErrorAndHint()
    {
        var error = Assert.Throws<LibvirtException>(() => Libvirt.Open("nosuchdriver+unix:///system"));

        Assert.Equal("virConnectOpen", error.Operation);
        Assert.Contains("nosuchdriver+unix:///system", error.Message, StringComparison.Ordinal);
        Assert.True(error.IsConnectionFailure, error.Message);
        Assert.NotEqual(0, error.ErrorCode);
    }

    [Fact]
    public void OpenListClose_ManyTimes_NoSocketOrThreadLeft()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        var descriptors = Directory.GetFiles("/proc/self/fd").Length;
        var threads = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;

        for (var i = 0; i < 200; i++)
        {
            using var hypervisor = Libvirt.Open(TestUri);
            Assert.Contains(hypervisor.ListDomains(), d => d.Name == name);
        }

        // Each connection is a socket and a reader thread; 200 of either left behind would show.
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length, 0, descriptors + 20);
        Thread.Sleep(200);
        Assert.InRange(System.Diagnostics.Process.GetCurrentProcess().Threads.Count, 0, threads + 20);
    }

    [Fact]
    public async Task Dispose_ThenCall_ConnectionFailureAndClosedFires()
    {
        var hypervisor = Libvirt.Open(TestUri);
        var closed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = hypervisor.OnConnectionClosed(why => closed.TrySetResult(why));

        hypervisor.Dispose();
        var error = Assert.Throws<LibvirtException>(() => hypervisor.ListDomains());

        Assert.True(error.IsConnectionFailure);
        Assert.Contains("closed by the agent", error.Message, StringComparison.Ordinal);
        // libvirtd hangs up once it has answered virConnectClose, so the event may come from the reader thread.
        Assert.Contains("closed by the agent", await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_PeerSendsAnOversizedMessage_ConnectionClosedNamingTheSize()
    {
        using var peer = new RawPeer();
        using var connection = RemoteConnection.Connect(peer.Path, "test+unix:///peer", TimeSpan.FromSeconds(10));
        var closed = new TaskCompletionSource<string>();
        connection.Closed += why => closed.TrySetResult(why);

        peer.Reply([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        var error = Assert.Throws<LibvirtException>(() => connection.Call(RemoteProtocol.ConnectGetCapabilities, null, "virConnectGetCapabilities"));

        Assert.True(error.IsConnectionFailure);
        Assert.Contains("2147483647 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("not libvirt's remote protocol", await closed.Task, StringComparison.Ordinal);
    }

    [Fact]
    public void Call_PeerNeverAnswers_TimesOutAndCountsAsLost()
    {
        using var peer = new RawPeer();
        using var connection = RemoteConnection.Connect(peer.Path, "test+unix:///peer", TimeSpan.FromSeconds(1));

        var error = Assert.Throws<LibvirtException>(() => connection.Call(RemoteProtocol.ConnectGetCapabilities, null, "virConnectGetCapabilities"));

        Assert.True(error.IsConnectionFailure);
        Assert.Contains("did not answer virConnectGetCapabilities within 1 s", error.Message, StringComparison.Ordinal);
        Assert.NotNull(connection.ClosedBecause);
    }

    [Fact]
    public void Call_ReplyBodyTruncated_ErrorSaysSoAndConnectionStaysUsable()
    {
        using var peer = new RawPeer();
        using var connection = RemoteConnection.Connect(peer.Path, "test+unix:///peer", TimeSpan.FromSeconds(10));

        // A reply to serial 1 whose string says 100 bytes but carries 4: the caller's decode fails, not the reader.
        var reply = new XdrWriter().UInt(RemoteProtocol.Program).UInt(1).Int(RemoteProtocol.ConnectGetCapabilities)
            .Int(RemoteProtocol.TypeReply).UInt(1).Int(RemoteProtocol.StatusOk).Int(100).Int(0);
        peer.Reply([.. new XdrWriter().Int(reply.Length + 4).Written, .. reply.Written]);
        var body = connection.Call(RemoteProtocol.ConnectGetCapabilities, null, "virConnectGetCapabilities");

        Assert.Throws<FormatException>(() => new XdrReader(body).String());
        Assert.Null(connection.ClosedBecause);
    }

    [Fact]
    public async Task Leave_DaemonHangsUpOnTheCloseCall_ClosedAsTheAgentsOwnClose()
    {
        using var peer = new RawPeer();
        using var connection = RemoteConnection.Connect(peer.Path, "test+unix:///peer", TimeSpan.FromSeconds(10));
        var closed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed += why => closed.TrySetResult(why);

        peer.HangUpOnFirstCall();
        connection.Leave(RemoteProtocol.ConnectClose, "virConnectClose");

        Assert.Equal("the connection was closed by the agent", connection.ClosedBecause);
        Assert.Equal("the connection was closed by the agent", await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>A unix socket that accepts one connection and writes what a test gives it, whatever was asked.</summary>
    private sealed class RawPeer : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly Task<Socket> _accepted;

        public RawPeer()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"peer-{Guid.NewGuid():N}.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(Path));
            _listener.Listen(1);
            _accepted = _listener.AcceptAsync();
        }

        public string Path { get; }

        public void Reply(byte[] bytes) => _ = Task.Run(async () =>
        {
            var socket = await _accepted;
            await Task.Delay(100); // after the call is sent
            await socket.SendAsync(bytes);
        });

        /// <summary>Reads the first call's header, then closes the connection without an answer.</summary>
        public void HangUpOnFirstCall() => _ = Task.Run(async () =>
        {
            var socket = await _accepted;
            var header = new byte[28];
            for (var read = 0; read < header.Length;)
            {
                var count = await socket.ReceiveAsync(header.AsMemory(read));
                if (count == 0)
                {
                    break;
                }

                read += count;
            }

            socket.Shutdown(SocketShutdown.Both);
        });

        public void Dispose()
        {
            if (_accepted.IsCompletedSuccessfully)
            {
                _accepted.Result.Dispose();
            }

            _listener.Dispose();
            File.Delete(Path);
        }
    }
}
