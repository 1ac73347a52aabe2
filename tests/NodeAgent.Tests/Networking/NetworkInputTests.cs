using NodeAgent.Agent;
using NodeAgent.Agent.Networking;

namespace NodeAgent.Tests.Networking;

/// <summary>The boundary: what a user or operator sends is parsed into typed values, or refused with every reason.</summary>
public sealed class NetworkInputTests
{
    private static readonly NetworkDefinition[] HostNetworks = [new(NetworkName.Parse("default"), InterfaceName.Parse("nabr0"))];

    [Theory]
    [InlineData("eth0; rm -rf /")]
    [InlineData("tap\"; flush ruleset")]
    [InlineData("tap*")]
    [InlineData("a b")]
    [InlineData("x\ny")]
    [InlineData("../etc")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("-rf")]
    [InlineData("sixteen-chars-xx")]
    [InlineData("tâp0")]
    [InlineData("")]
    public void InterfaceName_Hostile_Refused(string text) =>
        Assert.False(InterfaceName.TryParse(text, out _, out _));

    [Theory]
    [InlineData("eth0")]
    [InlineData("nabr0")]
    [InlineData("eth1.100")]
    [InlineData("0tap_a-b.c")]
    [InlineData("fifteen-chars-x")]
    public void InterfaceName_Usual_Accepted(string text) =>
        Assert.Equal(text, InterfaceName.Parse(text).Value);

    [Theory]
    [InlineData("Default")]
    [InlineData("9net")]
    [InlineData("-net")]
    [InlineData("net_work")]
    [InlineData("net\"}")]
    [InlineData("a-network-name-16")]
    [InlineData("")]
    public void NetworkName_Hostile_Refused(string text) =>
        Assert.False(NetworkName.TryParse(text, out _, out _));

    [Theory]
    [InlineData("52:54:00:12:34:5", "six hex pairs")]
    [InlineData("52:54:00:12:34:56 ", "six hex pairs")]
    [InlineData("52-54-00-12-34-56", "six hex pairs")]
    [InlineData("52:54:00:12:34:5G", "six hex pairs")]
    [InlineData("52:54:00:AB:CD:EF", "six hex pairs")]
    [InlineData("52:54:00:12:34:56\"; drop", "six hex pairs")]
    [InlineData("53:54:00:12:34:56", "multicast")]
    [InlineData("ff:ff:ff:ff:ff:ff", "multicast")]
    [InlineData("00:00:00:00:00:00", "not locally administered")]
    public void MacAddress_Hostile_RefusedWithTheReason(string text, string reason)
    {
        Assert.False(MacAddress.TryParse(text, out _, out var problem));
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("52:54:00:0a:bc:ff")]
    [InlineData("02:16:3e:12:34:56")]
    public void MacAddress_Unicast_RoundTrips(string text) =>
        Assert.Equal(text, MacAddress.Parse(text).ToString());

    [Theory]
    [InlineData("10.1")]
    [InlineData("010.0.0.1")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("10.0.0.256")]
    [InlineData(" 10.0.0.1")]
    [InlineData("10.0.0.1/24")]
    [InlineData("::1")]
    [InlineData("fe80::1")]
    [InlineData("0.0.0.0")]
    [InlineData("127.0.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.0.1; flush ruleset")]
    public void Ipv4Address_HostileOrNotAHostAddress_Refused(string text) =>
        Assert.False(Ipv4Address.TryParse(text, out _, out _));

    [Fact]
    public void Ipv4Address_RoundTripsAndKnowsItsSubnet()
    {
        var address = Ipv4Address.Parse("10.250.3.4");

        Assert.Equal("10.250.3.4", address.ToString());
        Assert.True(address.SameSubnet(Ipv4Address.Parse("10.250.3.1"), 24));
        Assert.False(address.SameSubnet(Ipv4Address.Parse("10.250.4.1"), 24));
    }

    [Fact]
    public void NetworkDefinition_FullSyntax_Parsed()
    {
        Assert.True(NetworkDefinition.TryParse("default=nabr0,uplink=eth1,vlan=100", out var network, out _));

        Assert.Equal(new NetworkDefinition(NetworkName.Parse("default"), InterfaceName.Parse("nabr0"), InterfaceName.Parse("eth1"), 100), network);
        Assert.Equal("eth1.100", network!.VlanInterface!.Value.Value);
        Assert.Equal("default=nabr0,uplink=eth1,vlan=100", network.ToString());
    }

    [Fact]
    public void NetworkDefinition_LongUplink_VlanInterfaceNamedAfterTheBridge()
    {
        var network = new NetworkDefinition(NetworkName.Parse("lab"), InterfaceName.Parse("nabr-lab"), InterfaceName.Parse("enp129s0f1np1"), 4000);

        Assert.Equal("vl4000-nabr-lab", network.VlanInterface!.Value.Value);
    }

    [Fact]
    public void NetworkDefinition_OneBadValue_EveryProblemInIt()
    {
        Assert.False(NetworkDefinition.TryParse("Bad=br;0,uplink=-x,vlan=ten,mtu=9000,uplink=eth1", out _, out var problems));

        Assert.Equal(6, problems.Count);
        Assert.Contains(problems, p => p.Contains("'uplink=eth1' is not a single key=value", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("name 'Bad'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("bridge 'br;0'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("uplink '-x'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("vlan 'ten'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("unknown setting 'mtu'", StringComparison.Ordinal));
    }

    [Fact]
    public void AgentOptionsValidate_ClashingNetworks_AllReportedAtOnce()
    {
        NetworkDefinition Parse(string text) => NetworkDefinition.TryParse(text, out var n, out _) ? n! : throw new FormatException(text);
        var options = new AgentOptions
        {
            Networks = [Parse("a=nabr0,uplink=eth1"), Parse("a=nabr1,vlan=5000"), Parse("b=nabr0,uplink=eth1"), Parse("c=nabr2,uplink=nabr2"), Parse("d=Br.4,uplink=eth2")],
        };

        var problems = options.Validate();

        Assert.Equal(
            [
                "network a: named twice; give each --network a different name",
                "network a: vlan 5000 is outside 1–4094",
                "network a: vlan=5000 needs an uplink= to tag frames on",
                "network b: bridge nabr0 is already the bridge of network a; each network needs its own bridge",
                "network b: eth1 is already the uplink port of network a; an interface can be a port of only one bridge (use a different vlan= on a shared uplink)",
                "network c: uplink nabr2 is the bridge itself; name the physical interface that leads out",
                "network d: bridge Br.4: use lower-case letters, digits, '-' and '_' for a bridge name",
            ],
            problems);
    }

    [Fact]
    public void AgentOptionsValidate_SharedUplinkOnDifferentVlans_Accepted()
    {
        var options = new AgentOptions
        {
            Networks =
            [
                new(NetworkName.Parse("a"), InterfaceName.Parse("nabr0"), InterfaceName.Parse("eth1"), 10),
                new(NetworkName.Parse("b"), InterfaceName.Parse("nabr1"), InterfaceName.Parse("eth1"), 20),
            ],
        };

        Assert.Empty(options.Validate());
    }

    [Fact]
    public void NicRuleParse_NicOfASpec_TypedValues()
    {
        var rule = NicRule.Parse("w-1", InterfaceName.Parse("tap0"), "52:54:00:12:34:56", "10.250.0.5");

        Assert.Equal(new NicRule(InterfaceName.Parse("tap0"), MacAddress.Parse("52:54:00:12:34:56"), Ipv4Address.Parse("10.250.0.5")), rule);
    }

    [Fact]
    public void NicRuleParse_Hostile_EveryProblemReportedAtOnce()
    {
        var error = Assert.Throws<NetworkException>(() => NicRule.Parse("w-1", default, "52:54:00:12:34:56\"; reboot", "10.0.0.1 || true"));

        Assert.Contains("tap name is not a parsed value", error.Message, StringComparison.Ordinal);
        Assert.Contains("MAC '52:54:00:12:34:56\"; reboot' is not six hex pairs", error.Message, StringComparison.Ordinal);
        Assert.Contains("address '10.0.0.1 || true' is not an IPv4 address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NetworkDefinitionFind_KnownAndUnknownNetworks()
    {
        Assert.Equal("nabr0", NetworkDefinition.Find(HostNetworks, "default").Bridge.Value);

        var error = Assert.Throws<NetworkException>(() => NetworkDefinition.Find(HostNetworks, "elsewhere\n"));

        Assert.Equal("this host has no network 'elsewhere\\u000a' (it offers: default)", error.Message);
    }
}
