using Google.Protobuf.WellKnownTypes;
using NodeAgent.Agent.Workspaces;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Agent;

public sealed class WorkspaceTests
{
    private static V1.WorkspaceSpec Spec(string id = "w-abc", string image = "test-guest") => new()
    {
        Id = id,
        Owner = "alice",
        Image = new V1.ImageRef { Name = image },
        Resources = new V1.Resources { Vcpus = 1, MemoryBytes = 256UL << 20 },
        ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch),
    };

    [Fact]
    public void FromWire_ValidSpec_MapsEveryField()
    {
        var workspace = Workspace.FromWire(Spec());

        Assert.Equal(new Workspace("w-abc", "alice", "test-guest", 1, 256L << 20, 0, DateTimeOffset.UnixEpoch), workspace);
        Assert.Equal("nodeagent-w-abc", workspace.DomainName);
    }

    [Theory]
    [InlineData("../etc", "test-guest", "id")]
    [InlineData("w-abc", "../../../../etc/passwd", "image")]
    [InlineData("w-abc;reboot", "test-guest", "id")]
    public void FromWire_HostileValues_RejectedBeforeAnythingIsBuilt(string id, string image, string field)
    {
        var error = Assert.Throws<FormatException>(() => Workspace.FromWire(Spec(id, image)));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nodeagent-w-abc", true, "w-abc")]
    [InlineData("someone-elses-vm", false, "")]
    [InlineData("nodeagent-", false, "")]
    [InlineData("nodeagent-UPPER", false, "")]
    public void DomainNames_OnlyNodeAgentsOwnAreRecognised(string name, bool ours, string id)
    {
        Assert.Equal(ours, DomainNames.TryParse(name, out var parsed));
        if (ours)
        {
            Assert.Equal(id, parsed);
        }
    }
}
