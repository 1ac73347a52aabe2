using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Networking;

namespace NodeAgent.Tests.Networking;

/// <summary>
/// Real traffic through the real nftables rules: two guests and a user on one bridge, all in namespaces the
/// test makes (<see cref="NetnsLab"/>). A guest that sends from another address, another MAC, forges ARP,
/// or sends IPv6 or VLAN-tagged frames is cut off, and its named counter shows the dropped frames.
/// </summary>
public sealed class AntiSpoofTrafficTests
{
    internal sealed class Setup : IDisposable
    {
        public required NetnsLab Lab { get; init; }

        public required NetnsLab.Peer A { get; init; }

        public required NetnsLab.Peer B { get; init; }

        public required NetnsLab.Peer User { get; init; }

        public required NetworkRulesManager Rules { get; init; }

        /// <summary>Guests A and B with rules for their own MAC and address; the user without any.</summary>
        public static async Task<Setup> CreateAsync()
        {
            var lab = await NetnsLab.CreateAsync();
            try
            {
                var a = await lab.AddPeerAsync("a", "ga0", "52:54:00:0a:00:02", "10.250.0.2");
                var b = await lab.AddPeerAsync("b", "gb0", "52:54:00:0a:00:03", "10.250.0.3");
                var user = await lab.AddPeerAsync("user", "us0", "52:54:00:0a:00:04", "10.250.0.4");
                var rules = new NetworkRulesManager(lab.Commands, Path.Combine(lab.Scratch.Path, "network"), NullLogger<NetworkRulesManager>.Instance);
                await rules.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>> { ["w-a"] = [a.Rule], ["w-b"] = [b.Rule] }, default);
                return new Setup { Lab = lab, A = a, B = b, User = user, Rules = rules };
            }
            catch
            {
                lab.Dispose();
                throw;
            }
        }

        public async Task<ulong> DroppedAsync(NetnsLab.Peer guest) =>
            (await Rules.ReadDropCountsAsync(default)).ByTap.TryGetValue(InterfaceName.Parse(guest.Tap), out var count) ? count.Packets : 0;

        /// <summary>True once the guest's counter is above <paramref name="before"/> (the frame may still be in a queue when the sender returns).</summary>
        public Task<bool> DropsRiseAsync(NetnsLab.Peer guest, ulong before, ulong by = 1) =>
            NetnsLab.EventuallyAsync(async () => await DroppedAsync(guest) >= before + by);

        public void Dispose()
        {
            Rules.Dispose();
            Lab.Dispose();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Guests_OwnMacAndAddress_ReachTheUserAndNothingIsDropped()
    {
        using var s = await Setup.CreateAsync();

        var a = await s.A.PingAsync(s.User);
        var b = await s.B.PingAsync(s.User);
        var aToB = await s.A.PingAsync(s.B);

        Assert.True(a, "guest A pings the user from its own address");
        Assert.True(b, "guest B pings the user from its own address");
        Assert.True(aToB, "guests reach each other");
        Assert.Equal(0ul, await s.DroppedAsync(s.A));
        Assert.Equal(0ul, await s.DroppedAsync(s.B));
    }

    [Fact(Timeout = 60_000)]
    public async Task SpoofedSourceAddress_CutOffAndCounted_OtherGuestUnaffected()
    {
        using var s = await Setup.CreateAsync();
        Assert.True(await s.A.PingAsync(s.User));
        await s.Lab.InAsync(s.A.Namespace, "ip", "address", "add", "10.250.0.99/24", "dev", "eth0");
        var before = await s.DroppedAsync(s.A);

        var spoofed = await s.A.PingAsync(s.User, from: "10.250.0.99");

        Assert.False(spoofed, "a ping from an address the guest was not given gets no answer");
        Assert.True(await s.DropsRiseAsync(s.A, before), "drop_ga0 counts the spoofed packet");
        Assert.True(await s.B.PingAsync(s.User), "guest B is unaffected");
        Assert.Equal(0ul, await s.DroppedAsync(s.B));
        Assert.True(await s.A.PingAsync(s.User), "guest A's own address still works");
    }

    [Fact(Timeout = 60_000)]
    public async Task ChangedMac_CutOffAndCounted()
    {
        using var s = await Setup.CreateAsync();
        Assert.True(await s.A.PingAsync(s.User));
        await s.Lab.InAsync(s.A.Namespace, "ip", "link", "set", "eth0", "address", "52:54:00:0a:00:99");
        await s.Lab.InAsync(s.A.Namespace, "ip", "neigh", "flush", "all");
        var before = await s.DroppedAsync(s.A);

        var reached = await s.A.PingAsync(s.User);

        Assert.False(reached, "a guest that changed its MAC is cut off");
        Assert.True(await s.DropsRiseAsync(s.A, before), "drop_ga0 counts the frames from the new MAC");
        var learned = await s.Lab.InHostAsync("bridge", "fdb", "show", "br", NetnsLab.Bridge);
        Assert.Contains(s.A.Mac, learned, StringComparison.Ordinal);
        Assert.DoesNotContain("52:54:00:0a:00:99", learned, StringComparison.Ordinal); // dropped before the bridge learns sources
        Assert.True(await s.B.PingAsync(s.User), "guest B is unaffected");
    }

    [Fact(Timeout = 60_000)]
    public async Task ForgedArp_DroppedCountedAndTheUserKeepsTheRightNeighbor()
    {
        using var s = await Setup.CreateAsync();
        Assert.True(await s.User.PingAsync(s.B), "the user learns B's MAC");
        Assert.Equal(s.B.Mac, await s.User.NeighborMacAsync(s.B.Address));
        var before = await s.DroppedAsync(s.A);

        await s.A.SendFrameAsync(Frames.ArpAnnouncement(s.A.Mac, claimedAddress: s.B.Address));

        Assert.True(await s.DropsRiseAsync(s.A, before), "drop_ga0 counts the forged ARP reply");
        Assert.Equal(s.B.Mac, await s.User.NeighborMacAsync(s.B.Address));
        Assert.True(await s.User.PingAsync(s.B), "traffic for B still goes to B");
    }

    [Fact(Timeout = 60_000)]
    public async Task Ipv6AndVlanTaggedFrames_FromTheRightMac_DroppedAndCounted()
    {
        using var s = await Setup.CreateAsync();
        var before = await s.DroppedAsync(s.A);

        await s.A.SendFrameAsync(Frames.Ipv6(s.A.Mac));
        await s.A.SendFrameAsync(Frames.VlanTaggedIpv4(s.A.Mac, s.A.Address, s.User.Mac, s.User.Address, vlan: 5));

        Assert.True(await s.DropsRiseAsync(s.A, before, by: 2), "both frames are counted as dropped");
        Assert.True(await s.A.PingAsync(s.User), "plain IPv4 from the guest's own address still passes");
    }

    [Fact(Timeout = 60_000)]
    public async Task Remove_RulesAndCounterGone_TapGoneFromTheBridge_OtherGuestStillGuarded()
    {
        using var s = await Setup.CreateAsync();
        var bridges = new BridgeManager(s.Lab.Commands, NullLogger<BridgeManager>.Instance);
        await s.Lab.InAsync(s.B.Namespace, "ip", "address", "add", "10.250.0.98/24", "dev", "eth0");

        await s.Rules.RemoveAsync("w-a", default);
        await s.Lab.InHostAsync("ip", "link", "delete", s.A.Tap); // what libvirt does to the tap when the domain goes

        var table = await s.Rules.ListTableAsync(default);
        Assert.DoesNotContain("ga0", table, StringComparison.Ordinal);
        Assert.Contains("drop_gb0", table, StringComparison.Ordinal);
        Assert.False((await s.Rules.ReadDropCountsAsync(default)).ByTap.ContainsKey(InterfaceName.Parse("ga0")));
        Assert.DoesNotContain("ga0", await bridges.PortsAsync(InterfaceName.Parse(NetnsLab.Bridge), default));
        Assert.False(s.Rules.Workspaces.ContainsKey("w-a"));
        Assert.False(await s.B.PingAsync(s.User, from: "10.250.0.98"), "B's rules are still in force");
    }

    [Fact(Timeout = 60_000)]
    public async Task Guard_TapOfTheAgentsFormWithoutRules_CutOffAndCounted_OthersUnaffected()
    {
        using var s = await Setup.CreateAsync();
        var c = await s.Lab.AddPeerAsync("c", "gc0", "52:54:00:0a:00:05", "10.250.0.5");
        using var guarded = new NetworkRulesManager(s.Lab.Commands, Path.Combine(s.Lab.Scratch.Path, "guarded"),
            NullLogger<NetworkRulesManager>.Instance, TapGuard.Create(["g"], []));
        await guarded.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>> { ["w-a"] = [s.A.Rule], ["w-b"] = [s.B.Rule] }, default);

        var reached = await c.PingAsync(s.User);

        Assert.False(reached, "a tap named like the agent's, with no workspace's rules, sends nothing");
        Assert.True(await NetnsLab.EventuallyAsync(async () => (await guarded.ReadDropCountsAsync(default)).UnlistedTaps.Packets > 0));
        Assert.True(await s.A.PingAsync(s.User), "listed taps pass as before");
        Assert.True(await s.User.PingAsync(s.B), "ports of other names (us0) are not guarded");
    }

    [Fact(Timeout = 60_000)]
    public async Task Remove_RulesGone_TheTapIsNoLongerFiltered()
    {
        using var s = await Setup.CreateAsync();
        await s.Lab.InAsync(s.A.Namespace, "ip", "address", "add", "10.250.0.99/24", "dev", "eth0");
        Assert.False(await s.A.PingAsync(s.User, from: "10.250.0.99"));

        await s.Rules.RemoveAsync("w-a", default);
        // The refused ARP left the neighbour entry mid-probe, and the next probe could come after ping's one second.
        await s.Lab.InAsync(s.A.Namespace, "ip", "neigh", "flush", "all");

        Assert.True(await s.A.PingAsync(s.User, from: "10.250.0.99"), "with its rules removed, nothing filters the tap any more");
    }
}
