using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The host admin lifecycle as a table: which actions each state allows, and how a drain ends.</summary>
public sealed class HostAdminStateMachineTests
{
    private static readonly HostId H1 = HostId.Parse("h1");
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Deadline = T0.AddHours(2);

    private static HostAdmin In(HostAdminState state) =>
        new(state, "before", state is HostAdminState.Draining or HostAdminState.Drained or HostAdminState.DrainFailed ? Deadline : null, T0.AddDays(-1), "bob");

    private static LeaseId[] Leases(int count) => Enumerable.Range(1, count).Select(i => LeaseId.Parse($"w-lease{i:D4}")).ToArray();

    [Theory]
    [InlineData(HostAdminState.Enabled, HostAdminAction.Enable, true)]
    [InlineData(HostAdminState.Enabled, HostAdminAction.Disable, true)]
    [InlineData(HostAdminState.Enabled, HostAdminAction.Drain, true)]
    [InlineData(HostAdminState.Disabled, HostAdminAction.Enable, true)]
    [InlineData(HostAdminState.Disabled, HostAdminAction.Disable, true)]
    [InlineData(HostAdminState.Disabled, HostAdminAction.Drain, true)]
    [InlineData(HostAdminState.Draining, HostAdminAction.Enable, true)]
    [InlineData(HostAdminState.Draining, HostAdminAction.Disable, true)]
    [InlineData(HostAdminState.Draining, HostAdminAction.Drain, false)]
    [InlineData(HostAdminState.Drained, HostAdminAction.Enable, true)]
    [InlineData(HostAdminState.Drained, HostAdminAction.Disable, true)]
    [InlineData(HostAdminState.Drained, HostAdminAction.Drain, false)]
    [InlineData(HostAdminState.DrainFailed, HostAdminAction.Enable, true)]
    [InlineData(HostAdminState.DrainFailed, HostAdminAction.Disable, true)]
    [InlineData(HostAdminState.DrainFailed, HostAdminAction.Drain, true)]
    public void CanApply_EveryStateAndAction_MatchesTheTable(HostAdminState from, HostAdminAction action, bool allowed)
    {
        Assert.Equal(allowed, HostAdminStateMachine.CanApply(from, action));

        if (allowed)
        {
            var next = HostAdminStateMachine.Apply(H1, In(from), action, Deadline, "why", "alice", T0);
            Assert.Equal(action switch { HostAdminAction.Enable => HostAdminState.Enabled, HostAdminAction.Disable => HostAdminState.Disabled, _ => HostAdminState.Draining }, next.State);
            Assert.Equal(("why", "alice"), (next.Reason, next.ChangedBy));
        }
        else
        {
            var error = Assert.Throws<HostAdminStateException>(() => HostAdminStateMachine.Apply(H1, In(from), action, Deadline, "why", "alice", T0));
            Assert.Equal(from, error.State);
            Assert.Contains("host h1 is already", error.Message, StringComparison.Ordinal);
            Assert.Contains("ws hosts", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Apply_Drain_KeepsTheDeadlineAndStartsNow()
    {
        var next = HostAdminStateMachine.Apply(H1, In(HostAdminState.Enabled), HostAdminAction.Drain, Deadline, "kernel upgrade", "alice", T0);

        Assert.Equal(new HostAdmin(HostAdminState.Draining, "kernel upgrade", Deadline, T0, "alice"), next);
    }

    [Fact]
    public void Apply_DisableOrEnable_DropsTheDeadline()
    {
        var disabled = HostAdminStateMachine.Apply(H1, In(HostAdminState.Draining), HostAdminAction.Disable, Deadline, "stop it", "alice", T0);
        var enabled = HostAdminStateMachine.Apply(H1, In(HostAdminState.DrainFailed), HostAdminAction.Enable, null, "", "alice", T0);

        Assert.Null(disabled.DrainDeadline);
        Assert.Null(enabled.DrainDeadline);
        Assert.Equal(T0, disabled.Since);
    }

    [Fact]
    public void Apply_SameStateAgain_KeepsSinceAndTakesTheNewReason()
    {
        var before = In(HostAdminState.Disabled);

        var again = HostAdminStateMachine.Apply(H1, before, HostAdminAction.Disable, null, "still broken", "carol", T0);

        Assert.Equal(before.Since, again.Since);
        Assert.Equal(("still broken", "carol"), (again.Reason, again.ChangedBy));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-60)]
    public void Apply_DrainWithoutAFutureDeadline_OutOfRange(int secondsFromNow)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            HostAdminStateMachine.Apply(H1, In(HostAdminState.Enabled), HostAdminAction.Drain, T0.AddSeconds(secondsFromNow), "", "alice", T0));
        Assert.Throws<ArgumentOutOfRangeException>(() => HostAdminStateMachine.Apply(H1, In(HostAdminState.Enabled), HostAdminAction.Drain, null, "", "alice", T0));

        Assert.Contains("deadline after now", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Progress_DrainingWithoutLeases_DrainedBySchedulerKeepingTheReason()
    {
        var next = HostAdminStateMachine.Progress(In(HostAdminState.Draining), [], T0);

        Assert.Equal(new HostAdmin(HostAdminState.Drained, "before", Deadline, T0, HostAdminStateMachine.SchedulerActor), next);
    }

    [Fact]
    public void Progress_DrainingWithLeasesBeforeTheDeadline_StaysDraining() =>
        Assert.Null(HostAdminStateMachine.Progress(In(HostAdminState.Draining), Leases(2), Deadline.AddMilliseconds(-1)));

    [Fact]
    public void Progress_DrainingWithLeasesAtTheDeadline_DrainFailedNamingThem()
    {
        var next = HostAdminStateMachine.Progress(In(HostAdminState.Draining), Leases(3), Deadline);

        Assert.NotNull(next);
        Assert.Equal(HostAdminState.DrainFailed, next.State);
        Assert.Equal("3 leases still hold capacity at the deadline: w-lease0001, w-lease0002, w-lease0003; release them or drain again with a later deadline", next.Reason);
        Assert.Equal((Deadline, Deadline, "scheduler"), (next.DrainDeadline, next.Since, next.ChangedBy));
    }

    [Fact]
    public void FailureReason_ManyLeases_NamesTheFirstFiveAndCountsTheRest()
    {
        Assert.Equal(
            "7 leases still hold capacity at the deadline: w-lease0001, w-lease0002, w-lease0003, w-lease0004, w-lease0005 and 2 more; release them or drain again with a later deadline",
            HostAdminStateMachine.FailureReason(Leases(7)));
        Assert.Equal("1 lease still holds capacity at the deadline: w-lease0001; release it or drain again with a later deadline", HostAdminStateMachine.FailureReason(Leases(1)));
    }

    [Theory]
    [InlineData(HostAdminState.Enabled)]
    [InlineData(HostAdminState.Disabled)]
    [InlineData(HostAdminState.Drained)]
    [InlineData(HostAdminState.DrainFailed)]
    public void Progress_NotDraining_NothingChanges(HostAdminState state)
    {
        Assert.Null(HostAdminStateMachine.Progress(In(state), [], Deadline.AddDays(1)));
        Assert.Null(HostAdminStateMachine.Progress(In(state), Leases(1), Deadline.AddDays(1)));
    }

    [Fact]
    public void HostRecord_Constructed_EnabledAndAcceptsPlacements()
    {
        var registration = new HostRegistration(H1, "h1", "test", "x86_64", "qemu", new Resources(1, 1, 1), new Dictionary<string, string>(), []);

        var host = new HostRecord(registration, HostLoad.Unknown, Resources.None, T0, T0, 0);

        Assert.Equal(HostAdminState.Enabled, host.Admin.State);
        Assert.True(host.Admin.AcceptsPlacements);
        Assert.False((host with { Admin = In(HostAdminState.Draining) }).Admin.AcceptsPlacements);
    }

    [Theory]
    [InlineData(47, "no heartbeat for 47 s")]
    [InlineData(600, "no heartbeat for 10 min")]
    [InlineData(3 * 3600, "no heartbeat for 3 h")]
    [InlineData(5 * 86400, "no heartbeat for 5 days")]
    public void SilenceAt_SinceTheLastHeartbeat_InUnitsPeopleRead(int seconds, string expected)
    {
        var registration = new HostRegistration(H1, "h1", "test", "x86_64", "qemu", new Resources(1, 1, 1), new Dictionary<string, string>(), []);
        var host = new HostRecord(registration, HostLoad.Unknown, Resources.None, T0, T0, 0);

        Assert.Equal(expected, host.SilenceAt(T0.AddSeconds(seconds)));
    }
}
