using System.Text.Json;
using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// Networks end to end, on real libvirtd and QEMU: the scheduler hands out addresses from its pool, the agent
/// puts each guest on its network's bridge behind anti-spoofing rules and gives it a NoCloud seed, the guest
/// configures itself from the seed, and the user's side (a namespace of the test's own on the same bridge)
/// reaches both guests at their assigned addresses. The bridge carries no root-namespace address.
/// </summary>
[Collection(RealLibvirt.Collection)]
public sealed class NetworkedLeaseTests : IAsyncLifetime
{
    private const string UserAddress = "10.251.0.1";
    private readonly string _bridge = "natb" + Guid.NewGuid().ToString("N")[..8];
    private RealCluster _cluster = null!;
    private UserSide _user = null!;
    private string _keyFile = string.Empty;

    public async Task InitializeAsync()
    {
        _cluster = await RealCluster.StartAsync(
            ["--network", $"lab=10.251.0.0/24,gateway={UserAddress},dns={UserAddress}", "--address-quarantine", "01:00:00"],
            ["--network", $"lab={_bridge}"]);
        _user = await UserSide.JoinAsync(_bridge, UserAddress + "/24", createBridge: false);
        _keyFile = Path.Combine(_cluster.AgentState, "..", "id_ed25519");
        await _user.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "scientist@lab", "-f", _keyFile);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _user.DisposeAsync();
        await _user.RunAsync("ip", "link", "del", _bridge);

        // The agent leaves its rule table in place when it stops (running guests keep their rules); this
        // test's agent is gone for good, and its guard would cut off other tests' taps named like NodeAgent's.
        await _user.RunAsync("nft", "delete", "table", "bridge", "nodeagent");
    }

    [Fact(Timeout = 300_000)]
    public async Task TwoGuestsOnOneBridge_EachConfiguresItsAssignedAddressAndAnswersOnlyThere_ReleaseRemovesTapsAndRules()
    {
        var first = await LeaseAsync();
        var second = await LeaseAsync();

        Assert.NotEqual(first.Address, second.Address);
        foreach (var (id, address) in new[] { first, second })
        {
            var console = await RealCluster.WaitForConsoleAsync(_cluster.ConsolePath(id), "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
            Assert.Contains($"NODEAGENT-GUEST: seed instance-id={id} hostname={id} keys=1", console, StringComparison.Ordinal);
            Assert.Contains($"NODEAGENT-GUEST: net eth0 {address}/24 gw {UserAddress}", console, StringComparison.Ordinal);
            Assert.True(await _user.PingAsync(address), $"{address} ({id}) did not answer ping from the user's namespace");
            Assert.Equal($"NODEAGENT-SSH-STANDIN {id}", await _user.BannerAsync(address));
        }

        var show = await _cluster.WsAsync("show", first.Id);
        Assert.Contains(first.Address, show.Stdout, StringComparison.Ordinal);
        Assert.Contains($"ssh {first.Address}", show.Stdout, StringComparison.Ordinal);
        var table = await _user.RunAsync("nft", "list", "table", "bridge", "nodeagent");
        var taps = new[] { TapNames.For(first.Id, 0), TapNames.For(second.Id, 0) };
        Assert.All(taps, tap => Assert.Contains(tap, table, StringComparison.Ordinal));

        Assert.Equal(0, (await _cluster.WsAsync("release", first.Id)).ExitCode);

        var after = await _user.RunAsync("nft", "list", "table", "bridge", "nodeagent");
        Assert.DoesNotContain(taps[0], after, StringComparison.Ordinal);
        Assert.Contains(taps[1], after, StringComparison.Ordinal);
        Assert.DoesNotContain(taps[0], await _user.RunAsync("ip", "-o", "link", "show"), StringComparison.Ordinal);
        Assert.False(await _user.PingAsync(first.Address, attempts: 2), $"{first.Address} still answers after its lease was released");
        Assert.True(await _user.PingAsync(second.Address), "the other guest is unaffected");

        // The released address is in quarantine: the next lease gets another one.
        var third = await LeaseAsync();
        Assert.NotEqual(first.Address, third.Address);
    }

    private async Task<(string Id, string Address)> LeaseAsync()
    {
        var lease = await _cluster.WsAsync("lease", "--image", RealCluster.Image, "--memory", "256M", "--duration", "10m", "--ssh-key", _keyFile + ".pub", "-o", "json");
        Assert.True(lease.ExitCode == 0, lease.Stderr + _cluster.Agent!.Output);
        using var json = JsonDocument.Parse(lease.Stdout);
        var nic = json.RootElement.GetProperty("networks")[0];
        Assert.Equal("lab", nic.GetProperty("network").GetString());
        return (json.RootElement.GetProperty("id").GetString()!, nic.GetProperty("address").GetString()!);
    }
}
