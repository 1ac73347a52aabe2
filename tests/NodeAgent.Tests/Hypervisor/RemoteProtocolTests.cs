using NodeAgent.Agent.Hypervisor.Remote;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>The XDR encoding and the choice of socket, without a daemon.</summary>
public sealed class RemoteProtocolTests
{
    [Fact]
    public void Xdr_StringsArePaddedToFourBytesAndReadBack()
    {
        var writer = new XdrWriter().String("abcde").OptionalString(null).OptionalString("é").Int(-2).UInt(uint.MaxValue);

        Assert.Equal(12 + 4 + 12 + 4 + 4, writer.Length);
        Assert.Equal([0, 0, 0, 5, (byte)'a', (byte)'b', (byte)'c', (byte)'d', (byte)'e', 0, 0, 0], writer.Written[..12].ToArray());
        var reader = new XdrReader(writer.Written);
        Assert.Equal("abcde", reader.String());
        Assert.Null(reader.OptionalString());
        Assert.Equal("é", reader.OptionalString());
        Assert.Equal(-2, reader.Int());
        Assert.Equal(uint.MaxValue, reader.UInt());
        Assert.True(reader.AtEnd);
    }

    [Fact]
    public void Xdr_HyperAndDoubleAreBigEndian()
    {
        byte[] data = [0, 0, 0, 1, 0, 0, 0, 2, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0];
        var reader = new XdrReader(data);

        Assert.Equal((1L << 32) + 2, reader.Hyper());
        Assert.Equal(1.5, reader.Double());
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0 }, "ends 1 bytes early")]
    [InlineData(new byte[] { 0x7f, 0, 0, 0, 1, 2, 3, 4 }, "does not fit")]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff }, "does not fit")]
    public void Xdr_TruncatedOrImpossibleLengths_FormatException(byte[] data, string expected)
    {
        var error = Assert.Throws<FormatException>(() => new XdrReader(data).String());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qemu:///system", "/run/libvirt/libvirt-sock", "qemu:///system")]
    [InlineData("qemu+unix:///system?socket=/tmp/x.sock", "/tmp/x.sock", "qemu:///system")]
    [InlineData("qemu:///system?mode=legacy&keep=1", "/run/libvirt/libvirt-sock", "qemu:///system?keep=1")]
    [InlineData("test+unix:///default", "/run/libvirt/libvirt-sock", "test:///default")]
    public void SocketAddress_LocalDaemonUris_SocketAndNameSent(string uri, string socket, string name)
    {
        var address = SocketAddress.Of(uri, _ => false);

        Assert.Equal(new SocketAddress(socket, name), address);
    }

    [Theory]
    [InlineData("test:///default")]
    [InlineData("qemu:///session")]
    [InlineData("qemu+ssh://root@host/system")]
    [InlineData("qemu+tls://host/system")]
    [InlineData("qemu://host/system")]
    [InlineData("not a uri")]
    public void SocketAddress_InProcessSessionOrRemoteUris_LeftToTheLibrary(string uri)
    {
        Assert.Null(SocketAddress.Of(uri, _ => true));
    }

    [Fact]
    public void SocketAddress_ModularDaemonSocketThere_ChosenAsLibvirtsClientDoes()
    {
        var address = SocketAddress.Of("qemu:///system", path => path == "/run/libvirt/virtqemud-sock");

        Assert.Equal("/run/libvirt/virtqemud-sock", address?.SocketPath);
    }
}
