using System.Net;
using System.Net.Sockets;

namespace NodeAgent.Tests.Support;

/// <summary>A loopback address nothing listens on: a port bound and released, so a connection to it is refused.</summary>
internal static class DeadAddress
{
    public static Uri Next()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new Uri($"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}");
    }
}
