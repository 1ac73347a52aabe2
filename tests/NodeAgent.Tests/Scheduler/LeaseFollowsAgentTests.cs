using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;
using WorkspaceState = NodeAgent.Contract.V1.WorkspaceState;

namespace NodeAgent.Tests.Scheduler;

/// <summary>How a lease follows its agent's reports, for every pair of lease state, wanted power and report.</summary>
public sealed class LeaseFollowsAgentTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_100_000);

    private static Lease? Follow(Lease lease, WorkspaceState observed, long rebootCount = 0, string message = "") =>
        LeaseFollowsAgent.Next(lease, new WorkspaceObservation(lease.Id, observed, message, rebootCount), Now);

    [Theory]
    // The owner's stop and pause, confirmed by the host.
    [InlineData(LeaseState.Running, PowerState.Stopped, WorkspaceState.Stopped, LeaseState.Stopped, "stopped on h1")]
    [InlineData(LeaseState.Running, PowerState.Paused, WorkspaceState.Paused, LeaseState.Paused, "paused on h1")]
    // Start and resume, confirmed.
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Running, LeaseState.Running, "running on h1")]
    [InlineData(LeaseState.Paused, PowerState.Running, WorkspaceState.Running, LeaseState.Running, "running on h1")]
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Starting, LeaseState.Stopped, "h1 is starting the workspace")]
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Preparing, LeaseState.Stopped, "h1 is preparing the workspace")]
    // Running wanted and not rebooting: a stop is the guest's own doing, as before.
    [InlineData(LeaseState.Running, PowerState.Running, WorkspaceState.Stopped, LeaseState.Failed, "the workspace stopped on its own on h1")]
    [InlineData(LeaseState.Running, PowerState.Paused, WorkspaceState.Stopped, LeaseState.Failed, "the workspace stopped on its own on h1")]
    [InlineData(LeaseState.Paused, PowerState.Paused, WorkspaceState.Stopped, LeaseState.Failed, "the workspace stopped on its own on h1")]
    [InlineData(LeaseState.Paused, PowerState.Running, WorkspaceState.Stopped, LeaseState.Failed, "the workspace stopped on its own on h1")]
    [InlineData(LeaseState.Starting, PowerState.Running, WorkspaceState.Stopped, LeaseState.Failed, "the workspace stopped on its own on h1")]
    // Paused outside NodeAgent while running is wanted: stays running, and says so.
    [InlineData(LeaseState.Running, PowerState.Running, WorkspaceState.Paused, LeaseState.Running, "paused on h1 outside NodeAgent")]
    // Started or resumed outside NodeAgent: the owner's choice stands, the reason tells.
    [InlineData(LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Running, LeaseState.Stopped, "started on h1 outside NodeAgent; its owner wants it stopped")]
    [InlineData(LeaseState.Paused, PowerState.Paused, WorkspaceState.Running, LeaseState.Paused, "resumed on h1 outside NodeAgent; its owner wants it paused")]
    // Failures and disappearance fail a stopped or paused lease too.
    [InlineData(LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Failed, LeaseState.Failed, "the workspace failed on h1")]
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Failed, LeaseState.Failed, "the workspace failed on h1")]
    [InlineData(LeaseState.Paused, PowerState.Paused, WorkspaceState.Failed, LeaseState.Failed, "the workspace failed on h1")]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Gone, LeaseState.Failed, "the workspace disappeared from h1")]
    [InlineData(LeaseState.Paused, PowerState.Paused, WorkspaceState.Gone, LeaseState.Failed, "the workspace disappeared from h1")]
    public void Next_ReportChangesTheLease(LeaseState state, PowerState power, WorkspaceState observed, LeaseState expected, string reason)
    {
        var next = Follow(LeaseStateMachineTests.Lease(state, power), observed);

        Assert.NotNull(next);
        Assert.Equal(expected, next.State);
        Assert.StartsWith(reason, next.Reason, StringComparison.Ordinal);
        Assert.Equal(power, next.Power);
        Assert.Equal(Now, next.UpdatedAt);
    }

    [Theory]
    // A transition the owner asked for is under way: reports of the old state or of its steps change nothing.
    [InlineData(LeaseState.Running, PowerState.Stopped, WorkspaceState.Running)]
    [InlineData(LeaseState.Running, PowerState.Stopped, WorkspaceState.Stopping)]
    [InlineData(LeaseState.Running, PowerState.Stopped, WorkspaceState.Paused)]
    [InlineData(LeaseState.Running, PowerState.Paused, WorkspaceState.Running)]
    [InlineData(LeaseState.Running, PowerState.Paused, WorkspaceState.Stopping)]
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Stopped)]
    [InlineData(LeaseState.Stopped, PowerState.Running, WorkspaceState.Stopping)]
    [InlineData(LeaseState.Paused, PowerState.Running, WorkspaceState.Paused)]
    // Settled: the host confirms what the lease already is.
    [InlineData(LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Stopped)]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, WorkspaceState.Stopping)]
    [InlineData(LeaseState.Paused, PowerState.Paused, WorkspaceState.Paused)]
    [InlineData(LeaseState.Running, PowerState.Running, WorkspaceState.Stopping)]
    [InlineData(LeaseState.Running, PowerState.Running, WorkspaceState.Starting)]
    [InlineData(LeaseState.Stopping, PowerState.Stopped, WorkspaceState.Stopped)]
    [InlineData(LeaseState.Stopping, PowerState.Paused, WorkspaceState.Paused)]
    public void Next_ReportThatChangesNothing_Null(LeaseState state, PowerState power, WorkspaceState observed)
    {
        var lease = LeaseStateMachineTests.Lease(state, power, reason: "as it was");

        Assert.Null(Follow(lease, observed));
    }

    [Fact]
    public void Next_RunningAgainAfterPausedOutside_ReasonBackToRunning()
    {
        var pausedOutside = Follow(LeaseStateMachineTests.Lease(LeaseState.Running, reason: "running on h1"), WorkspaceState.Paused, message: "I/O error")!;

        var back = Follow(pausedOutside, WorkspaceState.Running);

        Assert.Equal("paused on h1 outside NodeAgent: I/O error", pausedOutside.Reason);
        Assert.Equal(LeaseState.Running, back!.State);
        Assert.Equal("running on h1", back.Reason);
    }

    [Theory]
    [InlineData(WorkspaceState.Stopping, "h1 is rebooting the workspace (stopping)")]
    [InlineData(WorkspaceState.Stopped, "h1 is rebooting the workspace (stopped, starting again)")]
    [InlineData(WorkspaceState.Starting, "h1 is rebooting the workspace (starting)")]
    public void Next_RebootPending_StopAndStartReportsAreItsStepsNotAFailure(WorkspaceState observed, string reason)
    {
        var rebooting = LeaseStateMachineTests.Lease(LeaseState.Running, rebootsRequested: 1, reason: "rebooting on h1 at the owner's request");

        var next = Follow(rebooting, observed);

        Assert.Equal(LeaseState.Running, next!.State);
        Assert.Equal(reason, next.Reason);
        Assert.Equal(0, next.RebootsDone);
    }

    [Fact]
    public void Next_RunningWithTheRebootCounted_RebootDoneAndRunning()
    {
        var rebooting = LeaseStateMachineTests.Lease(LeaseState.Running, rebootsRequested: 1, reason: "h1 is rebooting the workspace (starting)");

        var stale = Follow(rebooting, WorkspaceState.Running, rebootCount: 0);
        var done = Follow(rebooting, WorkspaceState.Running, rebootCount: 1);

        Assert.Null(stale);
        Assert.Equal(1, done!.RebootsDone);
        Assert.Equal(LeaseState.Running, done.State);
        Assert.Equal("running on h1", done.Reason);
    }

    [Fact]
    public void Next_OneOfTwoRebootsCounted_CountRisesAndTheLeaseStillReboots()
    {
        var rebooting = LeaseStateMachineTests.Lease(LeaseState.Running, rebootsRequested: 2, reason: "rebooting on h1 at the owner's request");

        var next = Follow(rebooting, WorkspaceState.Running, rebootCount: 1);

        Assert.Equal(1, next!.RebootsDone);
        Assert.True(next.RebootPending);
        Assert.Equal("rebooting on h1 at the owner's request", next.Reason);
        Assert.Equal(Now, next.UpdatedAt);
    }

    [Theory]
    [InlineData(2, 2, 1, 2)]
    [InlineData(2, 2, 0, 2)]
    [InlineData(1, 0, 5, 1)]
    [InlineData(3, 1, 2, 2)]
    public void Next_ReportedRebootCount_NeverLowersTheCountAndNeverPassesTheRequests(long requested, long done, long reported, long expected)
    {
        var lease = LeaseStateMachineTests.Lease(LeaseState.Stopped, PowerState.Stopped, requested, done, "stopped on h1");

        var next = Follow(lease, WorkspaceState.Stopped, rebootCount: reported) ?? lease;

        Assert.Equal(expected, next.RebootsDone);
        Assert.Equal(LeaseState.Stopped, next.State);
    }

    [Fact]
    public void Next_RebootCountedThenTheGuestStops_Fails()
    {
        var rebooted = LeaseStateMachineTests.Lease(LeaseState.Running, rebootsRequested: 1, rebootsDone: 1, reason: "running on h1");

        var next = Follow(rebooted, WorkspaceState.Stopped, rebootCount: 1, message: "the guest shut itself down");

        Assert.Equal(LeaseState.Failed, next!.State);
        Assert.Equal("the workspace stopped on its own on h1: the guest shut itself down", next.Reason);
    }

    [Fact]
    public void Next_ReleasedWhileStopped_GoneEndsIt()
    {
        var stopping = LeaseStateMachineTests.Lease(LeaseState.Stopping, PowerState.Stopped, reason: "released; h1 is removing the workspace");

        var next = Follow(stopping, WorkspaceState.Gone);

        Assert.Equal(LeaseState.Ended, next!.State);
        Assert.Equal("released; removed from h1", next.Reason);
    }
}
