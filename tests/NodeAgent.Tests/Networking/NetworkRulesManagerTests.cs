using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Networking;

namespace NodeAgent.Tests.Networking;

/// <summary>The rule table's life in a namespace's real nftables: rebuild, idempotence, restarts, failures, neighbours.</summary>
public sealed class NetworkRulesManagerTests
{
    private static readonly NicRule A = new(InterfaceName.Parse("ga0"), MacAddress.Parse("52:54:00:0a:00:02"), Ipv4Address.Parse("10.250.0.2"));
    private static readonly NicRule B = new(InterfaceName.Parse("gb0"), MacAddress.Parse("52:54:00:0a:00:03"), Ipv4Address.Parse("10.250.0.3"));
    private static readonly NicRule B2 = new(InterfaceName.Parse("gb1"), MacAddress.Parse("52:54:00:0a:00:13"), Ipv4Address.Parse("10.250.1.3"));

    private static NetworkRulesManager Manager(NetnsLab lab) =>
        new(lab.Commands, Path.Combine(lab.Scratch.Path, "network"), NullLogger<NetworkRulesManager>.Instance);

    private static Dictionary<string, IReadOnlyList<NicRule>> Both => new() { ["w-a"] = [A], ["w-b"] = [B] };

    [Fact(Timeout = 60_000)]
    public async Task Rebuild_InANewManagerAfterARestart_GivesTheIdenticalTable()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var first = Manager(lab);
        await first.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>> { ["w-a"] = [A] }, default);
        await first.AddOrUpdateAsync("w-b", [B], default);
        var before = await first.ListTableAsync(default);

        using var restarted = Manager(lab);
        await restarted.RebuildAsync(Both, default);

        Assert.Contains("chain from_ga0", before, StringComparison.Ordinal);
        Assert.Contains("chain from_gb0", before, StringComparison.Ordinal);
        Assert.Equal(before, await restarted.ListTableAsync(default));
        var zero = new DropCounts(new Dictionary<InterfaceName, DropCount> { [A.Tap] = default, [B.Tap] = default }, default);
        Assert.Equal(AntiSpoofRules.Render([A, B], zero), await File.ReadAllTextAsync(Path.Combine(lab.Scratch.Path, "network", NetworkRulesManager.ScriptFile)));
    }

    [Fact(Timeout = 60_000)]
    public async Task ApplyingTwice_SameTable()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        await rules.RebuildAsync(Both, default);
        var once = await rules.ListTableAsync(default);

        await rules.AddOrUpdateAsync("w-a", [A], default);
        await rules.RebuildAsync(Both, default);
        await rules.RemoveAsync("w-never-prepared", default);

        Assert.Equal(once, await rules.ListTableAsync(default));
        Assert.Single((await lab.InHostAsync("nft", "list", "tables")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact(Timeout = 60_000)]
    public async Task AddOrUpdate_NewNics_ReplaceTheWorkspacesOldOnes()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        await rules.RebuildAsync(Both, default);

        await rules.AddOrUpdateAsync("w-b", [B2], default);

        var table = await rules.ListTableAsync(default);
        Assert.Contains("chain from_gb1", table, StringComparison.Ordinal);
        Assert.DoesNotContain("from_gb0", table, StringComparison.Ordinal);
        Assert.Contains("chain from_ga0", table, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Changes_KeepTheOtherTapsDropCounts()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        var seeded = AntiSpoofRules.Render([A], new DropCounts(new Dictionary<InterfaceName, DropCount> { [A.Tap] = new(7, 420) }, default));
        await rules.ApplyScriptAsync(seeded, default);

        await rules.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>> { ["w-a"] = [A] }, default);
        await rules.AddOrUpdateAsync("w-b", [B], default);
        await rules.RemoveAsync("w-b", default);

        Assert.Equal(new DropCount(7, 420), (await rules.ReadDropCountsAsync(default)).ByTap[A.Tap]);
    }

    [Fact(Timeout = 60_000)]
    public async Task HostsOwnTables_UntouchedByApplyRemoveAndRebuild()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        var hostRules = Path.Combine(lab.Scratch.Path, "host.nft");
        await File.WriteAllTextAsync(hostRules,
            "table inet filter {\n chain input {\n  type filter hook input priority filter; policy accept;\n  tcp dport 22 counter accept\n }\n}\n" +
            "table bridge hostfw {\n chain forward {\n  type filter hook forward priority filter; policy accept;\n  ether type ip6 counter\n }\n}\n");
        await lab.InHostAsync("nft", "-f", hostRules);
        var hostTables = await HostTablesAsync(lab);
        using var rules = Manager(lab);

        await rules.RebuildAsync(Both, default);
        await rules.AddOrUpdateAsync("w-c", [B2], default);
        await rules.RemoveAsync("w-a", default);
        using var restarted = Manager(lab);
        await restarted.RebuildAsync(Both, default);

        Assert.Equal(hostTables, await HostTablesAsync(lab));
        Assert.Contains("table bridge nodeagent", await lab.InHostAsync("nft", "list", "tables"), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task ReadDropCounts_NoTableYet_Empty()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);

        var counts = await rules.ReadDropCountsAsync(default);

        Assert.Empty(counts.ByTap);
        Assert.Equal(default, counts.UnlistedTaps);
        Assert.Equal("", await rules.ListTableAsync(default));
    }

    [Fact(Timeout = 60_000)]
    public async Task Rebuild_Empty_LeavesAnEmptyTable()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        await rules.RebuildAsync(Both, default);

        await rules.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>>(), default);

        var table = await rules.ListTableAsync(default);
        Assert.DoesNotContain("chain", table, StringComparison.Ordinal);
        Assert.DoesNotContain("counter", table, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task ApplyScript_RefusedByTheKernel_LeavesTheTableAsItWas()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        await rules.RebuildAsync(Both, default);
        var before = await rules.ListTableAsync(default);
        // Parses, so nft sends the batch; the kernel refuses the jump to a missing chain and so the whole batch,
        // including the table's deletion at its start.
        var broken = "table bridge nodeagent\ndelete table bridge nodeagent\ntable bridge nodeagent {\n chain c {\n  jump missing\n }\n}\n";

        var error = await Assert.ThrowsAsync<NetworkException>(() => rules.ApplyScriptAsync(broken, default));

        Assert.Contains("stay as they were", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await rules.ListTableAsync(default));
        Assert.True(File.Exists(Path.Combine(lab.Scratch.Path, "network", NetworkRulesManager.ScriptFile + ".rejected")));
    }

    [Fact(Timeout = 60_000)]
    public async Task AddOrUpdate_TapOfAnotherWorkspace_RefusedAndNothingChanges()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);
        await rules.RebuildAsync(Both, default);
        var before = await rules.ListTableAsync(default);
        var stealing = A with { Mac = MacAddress.Parse("52:54:00:0a:00:66") };

        var error = await Assert.ThrowsAsync<NetworkException>(() => rules.AddOrUpdateAsync("w-c", [stealing], default));

        Assert.Contains("tap ga0 already carries workspace w-a", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await rules.ListTableAsync(default));
        Assert.False(rules.Workspaces.ContainsKey("w-c"));
    }

    [Fact(Timeout = 60_000)]
    public async Task AddOrRemove_BeforeTheFirstRebuild_RefusedWithoutTouchingTheKernel()
    {
        using var lab = await NetnsLab.CreateAsync(bridge: false);
        using var rules = Manager(lab);

        await Assert.ThrowsAsync<InvalidOperationException>(() => rules.AddOrUpdateAsync("w-a", [A], default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => rules.RemoveAsync("w-a", default));

        Assert.Equal("", await rules.ListTableAsync(default));
    }

    [Theory(Timeout = 60_000)]
    [InlineData("w-a; nft flush ruleset")]
    [InlineData("../../etc")]
    [InlineData("W-A")]
    [InlineData("")]
    public async Task HostileWorkspaceId_RefusedBeforeAnyCommand(string id)
    {
        // A namespace that does not exist: any command would fail with a CommandException-based error instead.
        using var rules = new NetworkRulesManager(
            new NetworkCommands(new(NullLogger<NodeAgent.Agent.Processes.CommandRunner>.Instance), "natest-nonexistent"), "/nonexistent", NullLogger<NetworkRulesManager>.Instance);

        var error = await Assert.ThrowsAsync<NetworkException>(() => rules.RebuildAsync(new Dictionary<string, IReadOnlyList<NicRule>> { [id] = [A] }, default));

        Assert.StartsWith("workspace id", error.Message, StringComparison.Ordinal);
    }

    private static async Task<string> HostTablesAsync(NetnsLab lab) =>
        await lab.InHostAsync("nft", "list", "table", "inet", "filter") + await lab.InHostAsync("nft", "list", "table", "bridge", "hostfw");
}
