using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Networking;

namespace NodeAgent.Tests.Networking;

/// <summary>Bridges, uplinks and VLAN interfaces made by the real ip, inside a namespace the test makes.</summary>
public sealed class BridgeManagerTests
{
    private static BridgeManager Manager(NetnsLab lab) => new(lab.Commands, NullLogger<BridgeManager>.Instance);

    private static NetworkDefinition Network(string text) =>
        NetworkDefinition.TryParse(text, out var definition, out var problems) ? definition! : throw new FormatException(string.Join("; ", problems));

    private static async Task<LinkState> LinkAsync(NetnsLab lab, string name) =>
        (await LinkTable.ReadAsync(lab.Commands, default)).Find(InterfaceName.Parse(name)) ?? throw new InvalidOperationException($"{name} is missing");

    /// <summary>A veth pair inside the lab's host namespace; <paramref name="name"/> plays a physical NIC.</summary>
    private static Task<string> AddNicAsync(NetnsLab lab, string name, string peer) =>
        lab.InHostAsync("ip", "link", "add", name, "type", "veth", "peer", "name", peer);

    [Fact(Timeout = 60_000)]
    public async Task Ensure_MissingBridge_CreatedAndUp_SecondRunChangesNothing()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        var bridges = Manager(lab);

        var first = await bridges.EnsureAsync(Network("default=nabr0"), default);
        var second = await bridges.EnsureAsync(Network("default=nabr0"), default);

        Assert.Equal(["created bridge nabr0", "set bridge nabr0 up"], first.Changes);
        Assert.Empty(second.Changes);
        var bridge = await LinkAsync(lab, "nabr0");
        Assert.Equal("bridge", bridge.Kind);
        Assert.True(bridge.IsUp);
        Assert.Empty(bridge.Addresses);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_Uplink_BecomesAPortAndUp_SecondRunChangesNothing()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        await AddNicAsync(lab, "up0", "sw0");
        var bridges = Manager(lab);

        var first = await bridges.EnsureAsync(Network("default=nabr0,uplink=up0"), default);
        var second = await bridges.EnsureAsync(Network("default=nabr0,uplink=up0"), default);

        Assert.Equal(["created bridge nabr0", "added up0 to bridge nabr0", "set up0 up", "set bridge nabr0 up"], first.Changes);
        Assert.Empty(second.Changes);
        var uplink = await LinkAsync(lab, "up0");
        Assert.Equal("nabr0", uplink.Master);
        Assert.True(uplink.IsUp);
        Assert.Equal(["up0"], await bridges.PortsAsync(InterfaceName.Parse("nabr0"), default));
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_ExistingBridgeOfTheOperator_KeptAsItIs()
    {
        using var lab = await NetnsLab.CreateAsync();
        await lab.AddPeerAsync("g", "ga0", "52:54:00:0a:00:02", "10.250.0.2");
        var bridges = Manager(lab);

        var report = await bridges.EnsureAsync(Network($"default={NetnsLab.Bridge}"), default);

        Assert.Empty(report.Changes);
        Assert.Equal(["ga0"], await bridges.PortsAsync(InterfaceName.Parse(NetnsLab.Bridge), default));
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_MissingUplink_ErrorNamesTheUplinkAndTheSetting()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(Network("default=nabr0,uplink=eth9"), default));

        Assert.Equal("network default: uplink eth9 does not exist; check --network default=nabr0,uplink=eth9 (`ip link show` lists this host's interfaces)", error.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_UplinkWithAnAddress_RefusedAndLeftAlone()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        await AddNicAsync(lab, "up0", "sw0");
        await lab.InHostAsync("ip", "address", "add", "10.250.9.1/24", "dev", "up0");

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(Network("default=nabr0,uplink=up0"), default));

        Assert.Contains("up0 has addresses (10.250.9.1)", error.Message, StringComparison.Ordinal);
        Assert.Null((await LinkAsync(lab, "up0")).Master);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_UplinkOnAnotherBridge_Refused()
    {
        using var lab = await NetnsLab.CreateAsync();
        await AddNicAsync(lab, "up0", "sw0");
        await lab.InHostAsync("ip", "link", "set", "up0", "master", NetnsLab.Bridge);

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(Network("default=nabr1,uplink=up0"), default));

        Assert.Contains($"up0 is already a port of {NetnsLab.Bridge}; release it (ip link set up0 nomaster)", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_BridgeNameTakenByAnotherKind_Refused()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        await AddNicAsync(lab, "nabr0", "sw0");

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(Network("default=nabr0"), default));

        Assert.Equal("network default: interface nabr0 exists but is a veth interface, not a bridge; choose another bridge name in --network default=nabr0", error.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_VlanInterfaceNameTakenByAnotherKind_Refused()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        await AddNicAsync(lab, "up0", "sw0");
        await AddNicAsync(lab, "up0.100", "sw1");

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(Network("default=nabr0,uplink=up0,vlan=100"), default));

        Assert.Contains("interface up0.100 exists but is a veth interface", error.Message, StringComparison.Ordinal);
        Assert.Contains("not VLAN 100 on up0", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ensure_Vlan_VlanInterfaceIsThePort_OrAKernelWithout8021qIsExplained()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        await AddNicAsync(lab, "up0", "sw0");
        var probe = await lab.TryInAsync(lab.Host, "ip", "link", "add", "link", "sw0", "name", "probe.7", "type", "vlan", "id", "7");
        var network = Network("default=nabr0,uplink=up0,vlan=100");

        if (probe.ExitCode == 0)
        {
            // A kernel with 8021q: the VLAN interface is made, enslaved, and a second run changes nothing.
            var bridges = Manager(lab);
            await bridges.EnsureAsync(network, default);
            var vlan = await LinkAsync(lab, "up0.100");
            Assert.Equal(("vlan", "up0", 100, "nabr0"), (vlan.Kind, vlan.Parent, vlan.VlanId, vlan.Master));
            Assert.Null((await LinkAsync(lab, "up0")).Master);
            Assert.Empty((await bridges.EnsureAsync(network, default)).Changes);
        }
        else
        {
            // This machine's kernel has no 8021q (`ip link add … type vlan` says "Unknown device type").
            var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAsync(network, default));
            Assert.Contains("load the 8021q module", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task EnsureAll_TwoBrokenNetworks_BothReportedAndTheGoodOneMade()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        NetworkDefinition[] networks = [Network("a=nabr1,uplink=eth8"), Network("b=nabr2"), Network("c=nabr3,uplink=eth9")];

        var error = await Assert.ThrowsAsync<NetworkException>(() => Manager(lab).EnsureAllAsync(networks, default));

        Assert.Contains("uplink eth8 does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("uplink eth9 does not exist", error.Message, StringComparison.Ordinal);
        Assert.True((await LinkAsync(lab, "nabr2")).IsUp);
    }
}
