using NodeAgent.Agent.Networking;

namespace NodeAgent.Tests.Networking;

/// <summary>The one serializer from typed NICs to nft text, and the parsers of what ip and nft print.</summary>
public sealed class AntiSpoofRulesTests
{
    private static readonly NicRule A = new(InterfaceName.Parse("ga0"), MacAddress.Parse("52:54:00:0a:00:02"), Ipv4Address.Parse("10.250.0.2"));
    private static readonly NicRule B = new(InterfaceName.Parse("gb0"), MacAddress.Parse("52:54:00:0a:00:03"), Ipv4Address.Parse("10.250.0.3"));

    [Fact]
    public void Render_OneNic_TheWholeTableReplacedInOneScript()
    {
        var script = AntiSpoofRules.Render([A], new DropCounts(new Dictionary<InterfaceName, DropCount> { [A.Tap] = new(3, 180) }, default));

        Assert.Equal(
            """
            # Written by nodeagent: only workspace NICs' own MAC and IPv4 address may send. Replaced whole on every change.
            table bridge nodeagent
            delete table bridge nodeagent
            table bridge nodeagent {
            	comment "nodeagent anti-spoofing; rebuilt from the running workspaces, do not edit"
            	counter drop_ga0 {
            		comment "frames from ga0 dropped"
            		packets 3 bytes 180
            	}
            	chain from_ga0 {
            		ether saddr != 52:54:00:0a:00:02 counter name drop_ga0 drop
            		ether type ip ip saddr 10.250.0.2 accept
            		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 52:54:00:0a:00:02 arp saddr ip 10.250.0.2 accept
            		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp operation request arp saddr ether 52:54:00:0a:00:02 arp saddr ip 0.0.0.0 accept
            		counter name drop_ga0 drop
            	}
            	chain prerouting {
            		type filter hook prerouting priority filter; policy accept;
            		iifname vmap { "ga0" : jump from_ga0 }
            	}
            }

            """.ReplaceLineEndings("\n"),
            script);
    }

    [Fact]
    public void Render_AnyOrder_SameText()
    {
        Assert.Equal(AntiSpoofRules.Render([A, B]), AntiSpoofRules.Render([B, A]));
        Assert.Contains("iifname vmap { \"ga0\" : jump from_ga0, \"gb0\" : jump from_gb0 }", AntiSpoofRules.Render([B, A]), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NoNics_AnEmptyTableStillReplacesTheOld()
    {
        var script = AntiSpoofRules.Render([]);

        Assert.Contains("delete table bridge nodeagent", script, StringComparison.Ordinal);
        Assert.DoesNotContain("chain", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_SameTapTwice_Refused()
    {
        var error = Assert.Throws<NetworkException>(() => AntiSpoofRules.Render([A, A with { Address = Ipv4Address.Parse("10.250.0.9") }]));

        Assert.Contains("tap ga0 appears twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_UnparsedDefaultValues_Refused()
    {
        Assert.Throws<NetworkException>(() => AntiSpoofRules.Render([A with { Tap = default }]));
        Assert.Throws<NetworkException>(() => AntiSpoofRules.Render([A with { Mac = default }]));
        Assert.Throws<NetworkException>(() => AntiSpoofRules.Render([A with { Address = default }]));
    }

    [Fact]
    public void Render_OddButValidTapNames_StayInsideTheirTokens()
    {
        var odd = A with { Tap = InterfaceName.Parse("0x.-_Tap") };

        var script = AntiSpoofRules.Render([odd]);

        Assert.Contains("counter drop_0x.-_Tap {", script, StringComparison.Ordinal);
        Assert.Contains("\"0x.-_Tap\" : jump from_0x.-_Tap", script, StringComparison.Ordinal);
        Assert.Equal(odd.Tap, AntiSpoofRules.TapOfCounter("drop_0x.-_Tap"));
        Assert.Null(AntiSpoofRules.TapOfCounter("host_counter"));
    }

    [Fact]
    public void Render_WithAGuard_UnlistedTapsOfTheAgentsFormsDropped()
    {
        var guard = TapGuard.Create(["nh", "na"], []);

        var script = AntiSpoofRules.Render([A], null, guard);

        Assert.Contains(
            "\t\tiifname vmap { \"ga0\" : jump from_ga0 }\n\t\tiifname \"na*\" counter name unlisted_taps_drop drop\n\t\tiifname \"nh*\" counter name unlisted_taps_drop drop\n",
            script, StringComparison.Ordinal);
        Assert.Contains("\tcounter unlisted_taps_drop {\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void TapGuardCreate_BadPrefixesAndAnUplinkOfTheSameForm_AllRefused()
    {
        NetworkDefinition[] networks = [new(NetworkName.Parse("a"), InterfaceName.Parse("nabr0"), InterfaceName.Parse("naeth1"))];

        var error = Assert.Throws<NetworkException>(() => TapGuard.Create(["na", "x*", "fifteen-chars-x"], networks));

        Assert.Contains("uplink port naeth1 starts with na", error.Message, StringComparison.Ordinal);
        Assert.Contains("'x*' has '*'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'fifteen-chars-x' leaves no room", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseCounters_NftJson_OnlyOurDropCounters()
    {
        const string Json = """
            {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
              {"counter": {"family": "bridge", "name": "drop_ga0", "table": "nodeagent", "handle": 3, "packets": 12, "bytes": 720}},
              {"counter": {"family": "bridge", "name": "other", "table": "nodeagent", "handle": 4, "packets": 1, "bytes": 1}},
              {"counter": {"family": "bridge", "name": "unlisted_taps_drop", "table": "nodeagent", "handle": 6, "packets": 2, "bytes": 120}},
              {"counter": {"family": "inet", "name": "drop_gb0", "table": "filter", "handle": 5, "packets": 9, "bytes": 9}}]}
            """;

        var counts = NetworkRulesManager.ParseCounters(Json);

        Assert.Equal(new DropCount(12, 720), Assert.Single(counts.ByTap).Value);
        Assert.Equal(new DropCount(2, 120), counts.UnlistedTaps);
    }

    [Fact]
    public void LinkTableParse_IpJson_KindsMastersVlansAndAddresses()
    {
        const string Json = """
            [{"ifname": "lo", "flags": ["LOOPBACK", "UP"], "addr_info": [{"family": "inet", "local": "127.0.0.1", "scope": "host"}]},
             {"ifname": "nabr0", "flags": ["BROADCAST", "UP"], "linkinfo": {"info_kind": "bridge"}, "addr_info": []},
             {"ifname": "eth1", "flags": ["BROADCAST", "UP"], "master": "nabr0", "addr_info": [{"family": "inet6", "local": "fe80::1", "scope": "link"}]},
             {"ifname": "eth2.7", "link": "eth2", "flags": ["BROADCAST"], "linkinfo": {"info_kind": "vlan", "info_data": {"protocol": "802.1Q", "id": 7}}},
             {"ifname": "ga0", "link": "eth0", "link_netnsid": 1, "master": "nabr0", "flags": ["UP"], "linkinfo": {"info_kind": "veth"}},
             {"ifname": "eth2", "flags": ["UP"], "addr_info": [{"family": "inet", "local": "192.0.2.7", "scope": "global"}]}]
            """;

        var links = LinkTable.Parse(Json);

        Assert.Equal(new LinkState("eth2.7", "vlan", null, "eth2", 7, false, []), links.Find(InterfaceName.Parse("eth2.7"))! with { Addresses = [] });
        Assert.Null(links.Find(InterfaceName.Parse("ga0"))!.Parent);
        Assert.Equal(["eth1", "ga0"], links.PortsOf(InterfaceName.Parse("nabr0")));
        Assert.Empty(links.Find(InterfaceName.Parse("eth1"))!.Addresses);
        Assert.Equal(["192.0.2.7"], links.Find(InterfaceName.Parse("eth2"))!.Addresses);
        Assert.Equal("bridge", links.Find(InterfaceName.Parse("nabr0"))!.Kind);
    }
}
