using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Hypervisor;

public sealed class TapNamesTests
{
    [Theory]
    [InlineData("w-k3m9x2pq7a", 0, "nak3m9x2pq7a-0")]
    [InlineData("w-k3m9x2pq7a", 9, "nak3m9x2pq7a-9")]
    [InlineData("w-k3m9x2pq7a", 15, "nak3m9x2pq7a-15")]
    [InlineData("w-1", 2, "na1-2")]
    public void For_SchedulerId_ReadableName(string id, int index, string expected) =>
        Assert.Equal(expected, TapNames.For(id, index));

    [Theory]
    [InlineData("w-k3m9x2pq7ab3", 0)]
    [InlineData("lab.node_7", 0)]
    [InlineData("w-with-dash", 1)]
    [InlineData("a-workspace-id-of-sixty-three-characters-is-allowed-by-idsyntax", 15)]
    public void For_OtherIds_HashedNameWithinIfnamsiz(string id, int index)
    {
        var name = TapNames.For(id, index);

        Assert.StartsWith("nh", name, StringComparison.Ordinal);
        Assert.InRange(name.Length, 1, TapNames.MaxLength);
        Assert.True(TapNames.IsValidInterfaceName(name, out _));
        Assert.Equal(name, TapNames.For(id, index));
    }

    [Fact]
    public void For_ManyWorkspacesAndNics_NoTwoShareAName()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"w-{i:x}").Concat(Enumerable.Range(0, 2000).Select(i => $"ws.{i}"));
        var names = ids.SelectMany(id => Enumerable.Range(0, TapNames.MaxNics).Select(n => TapNames.For(id, n))).ToList();

        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, name => Assert.True(name.Length <= TapNames.MaxLength, name));
    }

    [Theory]
    [InlineData("w-1", -1)]
    [InlineData("w-1", 16)]
    public void For_IndexOutOfRange_Throws(string id, int index) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TapNames.For(id, index));

    [Fact]
    public void For_InvalidId_Throws() =>
        Assert.Throws<ArgumentException>(() => TapNames.For("../x", 0));

    [Theory]
    [InlineData("nabr0", true)]
    [InlineData("br_lab-1", true)]
    [InlineData("", false)]
    [InlineData("sixteen-chars-xx", false)]
    [InlineData("Br0", false)]
    [InlineData("br0.10", false)]
    [InlineData("br/0", false)]
    [InlineData("br 0", false)]
    [InlineData("br0'/><x", false)]
    public void IsValidInterfaceName_Cases(string name, bool valid) =>
        Assert.Equal(valid, TapNames.IsValidInterfaceName(name, out _));
}
