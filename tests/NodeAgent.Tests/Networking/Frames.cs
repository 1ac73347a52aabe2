using System.Net;

namespace NodeAgent.Tests.Networking;

/// <summary>Raw Ethernet frames a misbehaving guest might send, built byte by byte.</summary>
internal static class Frames
{
    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    /// <summary>An unsolicited ARP reply announcing that <paramref name="claimedAddress"/> is at <paramref name="mac"/>: ARP spoofing.</summary>
    public static byte[] ArpAnnouncement(string mac, string claimedAddress)
    {
        var sender = Mac(mac);
        var ip = IPAddress.Parse(claimedAddress).GetAddressBytes();
        byte[] arp = [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, .. sender, .. ip, .. Broadcast, .. ip];
        return Pad([.. Broadcast, .. sender, 0x08, 0x06, .. arp]);
    }

    /// <summary>An IPv6 frame (a bare header to all-nodes) from the guest's own MAC: an ethertype the network does not carry.</summary>
    public static byte[] Ipv6(string mac)
    {
        byte[] header = [0x60, 0, 0, 0, 0, 0, 59, 64, .. new byte[16], 0xff, 0x02, .. new byte[13], 0x01];
        return Pad([0x33, 0x33, 0, 0, 0, 1, .. Mac(mac), 0x86, 0xdd, .. header]);
    }

    /// <summary>An IPv4 frame from the guest's own MAC and address, but inside an 802.1Q tag: an attempt to reach another VLAN.</summary>
    public static byte[] VlanTaggedIpv4(string mac, string source, string destinationMac, string destination, ushort vlan)
    {
        byte[] ip =
        [
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 253, 0, 0,
            .. IPAddress.Parse(source).GetAddressBytes(), .. IPAddress.Parse(destination).GetAddressBytes(),
        ];
        return Pad([.. Mac(destinationMac), .. Mac(mac), 0x81, 0x00, (byte)(vlan >> 8), (byte)vlan, 0x08, 0x00, .. ip]);
    }

    private static byte[] Mac(string text) => Convert.FromHexString(text.Replace(":", "", StringComparison.Ordinal));

    private static byte[] Pad(byte[] frame) => frame.Length >= 60 ? frame : [.. frame, .. new byte[60 - frame.Length]];
}
