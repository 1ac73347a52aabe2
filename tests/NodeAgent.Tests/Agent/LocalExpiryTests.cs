using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Tests.Agent;

/// <summary>The agent's own enforcement of a lease's end, for a host the scheduler has not reached in time.</summary>
public sealed class LocalExpiryTests
{
    private static readonly DateTimeOffset End = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly LocalExpiry Expiry = new(TimeSpan.FromMinutes(2));

    private static Workspace Wanted(DesiredPower power = DesiredPower.Running) =>
        new("w-1", "alice", "debian-12", 1, 512L << 20, 0, End, power) { DestroyAt = End + TimeSpan.FromMinutes(2) };

    [Fact]
    public void BeforeTheEndPlusTheMargin_AsWanted()
    {
        var (workspace, stage) = Expiry.Apply(Wanted(), End + TimeSpan.FromMinutes(2) - TimeSpan.FromTicks(1));

        Assert.Equal(LocalExpiryStage.None, stage);
        Assert.Equal(DesiredPower.Running, workspace!.Power);
    }

    [Fact]
    public void PastTheEndPlusTheMargin_Stopped()
    {
        var (workspace, stage) = Expiry.Apply(Wanted(), End + TimeSpan.FromMinutes(2));

        Assert.Equal(LocalExpiryStage.Stopped, stage);
        Assert.Equal(DesiredPower.Stopped, workspace!.Power);
    }

    [Fact]
    public void AlreadyStopped_PastTheEnd_NothingToDoUntilTheDestructionTime()
    {
        var (workspace, stage) = Expiry.Apply(Wanted(DesiredPower.Stopped), End + TimeSpan.FromMinutes(3));

        Assert.Equal(LocalExpiryStage.None, stage);
        Assert.NotNull(workspace);
    }

    [Fact]
    public void PastTheDestructionTimePlusTheMargin_Removed()
    {
        var (workspace, stage) = Expiry.Apply(Wanted(), End + TimeSpan.FromMinutes(4));

        Assert.Equal(LocalExpiryStage.Removed, stage);
        Assert.Null(workspace);
    }

    [Fact]
    public void NoEndGiven_NeverExpires()
    {
        var never = Wanted() with { ExpiresAt = DateTimeOffset.MaxValue, DestroyAt = DateTimeOffset.MaxValue };

        var (workspace, stage) = Expiry.Apply(never, new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(LocalExpiryStage.None, stage);
        Assert.Same(never, workspace);
    }
}
