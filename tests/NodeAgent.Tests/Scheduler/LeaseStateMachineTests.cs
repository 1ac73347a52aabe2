using NodeAgent.Contract;
using NodeAgent.Scheduler.Api;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Which moves a lease may make, and what the owner's power actions do to it.</summary>
public sealed class LeaseStateMachineTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    internal static Lease Lease(LeaseState state, PowerState power = PowerState.Running, long rebootsRequested = 0, long rebootsDone = 0, string reason = "") => new(
        LeaseId.Parse("w-testlease2"), "alice", "debian-12", new Resources(1, 512L << 20, 0), state, reason,
        state is LeaseState.Pending or LeaseState.Placing ? null : HostId.Parse("h1"),
        Now.AddHours(-1), Now.AddHours(1), Now.AddHours(-1), null, power, rebootsRequested, rebootsDone);

    /// <summary>Every allowed move; every pair not listed must be refused.</summary>
    private static readonly HashSet<(LeaseState, LeaseState)> Allowed =
    [
        (LeaseState.Pending, LeaseState.Placing), (LeaseState.Pending, LeaseState.Ended), (LeaseState.Pending, LeaseState.Failed),
        (LeaseState.Placing, LeaseState.Starting), (LeaseState.Placing, LeaseState.Pending), (LeaseState.Placing, LeaseState.Ended), (LeaseState.Placing, LeaseState.Failed),
        (LeaseState.Starting, LeaseState.Running), (LeaseState.Starting, LeaseState.Stopping), (LeaseState.Starting, LeaseState.Failed), (LeaseState.Starting, LeaseState.Placing),
        (LeaseState.Running, LeaseState.Stopped), (LeaseState.Running, LeaseState.Paused), (LeaseState.Running, LeaseState.Stopping), (LeaseState.Running, LeaseState.Failed),
        (LeaseState.Stopped, LeaseState.Running), (LeaseState.Stopped, LeaseState.Stopping), (LeaseState.Stopped, LeaseState.Failed),
        (LeaseState.Paused, LeaseState.Running), (LeaseState.Paused, LeaseState.Stopping), (LeaseState.Paused, LeaseState.Failed),
        (LeaseState.Stopping, LeaseState.Ended), (LeaseState.Stopping, LeaseState.Failed),
    ];

    [Fact]
    public void CanMove_EveryPairOfStates_MatchesTheTable()
    {
        var states = Enum.GetValues<LeaseState>();

        var wrong = states.SelectMany(from => states.Select(to => (from, to)))
            .Where(pair => LeaseStateMachine.CanMove(pair.from, pair.to) != Allowed.Contains(pair))
            .Select(pair => $"{pair.from}→{pair.to}")
            .ToList();

        Assert.Empty(wrong);
    }

    [Theory]
    [InlineData(LeaseState.Running, PowerState.Running, LeaseState.Stopped)]
    [InlineData(LeaseState.Running, PowerState.Paused, LeaseState.Stopped)]
    [InlineData(LeaseState.Running, PowerState.Running, LeaseState.Paused)]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, LeaseState.Running)]
    [InlineData(LeaseState.Paused, PowerState.Paused, LeaseState.Running)]
    public void Move_PowerStateTheOwnerDidNotAskFor_Refused(LeaseState from, PowerState power, LeaseState to)
    {
        var error = Assert.Throws<LeaseStateException>(() => LeaseStateMachine.Move(Lease(from, power), to, "x", Now));

        Assert.Contains($"while its owner wants it {power.ToString().ToLowerInvariant()}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LeaseState.Running, PowerState.Stopped, LeaseState.Stopped)]
    [InlineData(LeaseState.Running, PowerState.Paused, LeaseState.Paused)]
    [InlineData(LeaseState.Stopped, PowerState.Running, LeaseState.Running)]
    [InlineData(LeaseState.Paused, PowerState.Running, LeaseState.Running)]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, LeaseState.Stopping)]
    [InlineData(LeaseState.Paused, PowerState.Paused, LeaseState.Failed)]
    public void Move_AskedForOrEndingMove_Made(LeaseState from, PowerState power, LeaseState to)
    {
        var moved = LeaseStateMachine.Move(Lease(from, power), to, "why", Now);

        Assert.Equal(to, moved.State);
        Assert.Equal("why", moved.Reason);
    }

    [Theory]
    [InlineData(LeaseState.Running, PowerAction.Stop, PowerState.Stopped, "stopping on h1 at the owner's request")]
    [InlineData(LeaseState.Running, PowerAction.Pause, PowerState.Paused, "pausing on h1 at the owner's request")]
    [InlineData(LeaseState.Stopped, PowerAction.Start, PowerState.Running, "starting on h1 at the owner's request")]
    [InlineData(LeaseState.Paused, PowerAction.Resume, PowerState.Running, "resuming on h1 at the owner's request")]
    public void Apply_SettledLease_WantsTheNewPowerAndKeepsItsStateUntilTheHostConfirms(LeaseState state, PowerAction action, PowerState wanted, string reason)
    {
        var settledPower = state switch { LeaseState.Stopped => PowerState.Stopped, LeaseState.Paused => PowerState.Paused, _ => PowerState.Running };
        var lease = Lease(state, settledPower);

        var next = LeasePower.Apply(lease, action, Now.AddMinutes(1));

        Assert.Equal(state, next.State);
        Assert.Equal(wanted, next.Power);
        Assert.Equal(reason, next.Reason);
        Assert.Equal(Now.AddMinutes(1), next.UpdatedAt);
        Assert.Equal(lease.ExpiresAt, next.ExpiresAt);
        Assert.Equal(lease.Host, next.Host);
    }

    [Fact]
    public void Apply_Reboot_EachAsksForOneMoreEvenWhileOneIsPending()
    {
        var once = LeasePower.Apply(Lease(LeaseState.Running), PowerAction.Reboot, Now);
        var twice = LeasePower.Apply(once, PowerAction.Reboot, Now);

        Assert.Equal(1, once.RebootsRequested);
        Assert.Equal(2, twice.RebootsRequested);
        Assert.Equal(0, twice.RebootsDone);
        Assert.Equal(PowerState.Running, twice.Power);
        Assert.Equal("rebooting on h1 at the owner's request", twice.Reason);
    }

    [Theory]
    [InlineData(LeaseState.Running, PowerState.Running, PowerAction.Start)]
    [InlineData(LeaseState.Running, PowerState.Running, PowerAction.Resume)]
    [InlineData(LeaseState.Running, PowerState.Stopped, PowerAction.Stop)]
    [InlineData(LeaseState.Running, PowerState.Paused, PowerAction.Pause)]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, PowerAction.Stop)]
    [InlineData(LeaseState.Stopped, PowerState.Running, PowerAction.Start)]
    [InlineData(LeaseState.Paused, PowerState.Paused, PowerAction.Pause)]
    [InlineData(LeaseState.Paused, PowerState.Running, PowerAction.Resume)]
    [InlineData(LeaseState.Starting, PowerState.Running, PowerAction.Start)]
    public void Apply_PowerAlreadyWanted_ChangesNothing(LeaseState state, PowerState power, PowerAction action)
    {
        var lease = Lease(state, power);

        Assert.Same(lease, LeasePower.Apply(lease, action, Now.AddMinutes(1)));
    }

    [Theory]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, 0, PowerAction.Pause, "is stopped; `ws start w-testlease2` starts it")]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, 0, PowerAction.Resume, "is stopped; `ws start w-testlease2` starts it")]
    [InlineData(LeaseState.Stopped, PowerState.Stopped, 0, PowerAction.Reboot, "is stopped; `ws start w-testlease2` starts it")]
    [InlineData(LeaseState.Paused, PowerState.Paused, 0, PowerAction.Start, "is paused; `ws resume w-testlease2` resumes it")]
    [InlineData(LeaseState.Paused, PowerState.Paused, 0, PowerAction.Stop, "`ws resume w-testlease2` resumes it, then `ws stop w-testlease2`")]
    [InlineData(LeaseState.Running, PowerState.Stopped, 0, PowerAction.Start, "is being stopped on h1 at the owner's request; wait until that is done")]
    [InlineData(LeaseState.Running, PowerState.Stopped, 0, PowerAction.Reboot, "is being stopped on h1")]
    [InlineData(LeaseState.Running, PowerState.Paused, 0, PowerAction.Resume, "is being paused on h1")]
    [InlineData(LeaseState.Stopped, PowerState.Running, 0, PowerAction.Stop, "is being started on h1")]
    [InlineData(LeaseState.Paused, PowerState.Running, 0, PowerAction.Pause, "is being resumed on h1")]
    [InlineData(LeaseState.Running, PowerState.Running, 1, PowerAction.Stop, "is rebooting on h1 at the owner's request; wait until that is done (`ws show w-testlease2`), then stop it")]
    [InlineData(LeaseState.Starting, PowerState.Running, 0, PowerAction.Stop, "is starting on h1 for the first time")]
    [InlineData(LeaseState.Starting, PowerState.Running, 0, PowerAction.Reboot, "is starting on h1 for the first time")]
    public void Apply_ActionThatDoesNotFit_RefusedNamingTheStateAndWhatToDo(LeaseState state, PowerState power, long rebootsRequested, PowerAction action, string message)
    {
        var error = Assert.Throws<LeaseStateException>(() => LeasePower.Apply(Lease(state, power, rebootsRequested), action, Now));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LeaseState.Pending, "not on a host yet")]
    [InlineData(LeaseState.Placing, "not on a host yet")]
    [InlineData(LeaseState.Stopping, "is stopping for good")]
    [InlineData(LeaseState.Ended, "has ended")]
    [InlineData(LeaseState.Failed, "has failed")]
    public void Apply_LeaseWithoutAWorkspace_EveryActionRefused(LeaseState state, string message)
    {
        foreach (var action in Enum.GetValues<PowerAction>())
        {
            var error = Assert.Throws<LeaseStateException>(() => LeasePower.Apply(Lease(state), action, Now));
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(LeaseState.Starting, true, true)]
    [InlineData(LeaseState.Running, true, true)]
    [InlineData(LeaseState.Stopped, true, true)]
    [InlineData(LeaseState.Paused, true, true)]
    [InlineData(LeaseState.Stopping, false, true)]
    [InlineData(LeaseState.Pending, false, false)]
    [InlineData(LeaseState.Ended, false, false)]
    [InlineData(LeaseState.Failed, false, false)]
    public void Lease_StoppedAndPaused_StayInTheDesiredSetAndHoldCapacity(LeaseState state, bool wantsWorkspace, bool holdsCapacity)
    {
        var lease = Lease(state);

        Assert.Equal(wantsWorkspace, lease.WantsWorkspace);
        Assert.Equal(holdsCapacity, lease.HoldsCapacity);
    }

    [Fact]
    public void WireMapping_EveryStateAndPower_HasItsOwnWireValue()
    {
        var states = Enum.GetValues<LeaseState>().Select(s => WireMapping.ToWire(Lease(s)).State).ToList();
        var powers = Enum.GetValues<PowerState>().Select(WireMapping.ToWire).ToList();

        Assert.DoesNotContain(NodeAgent.Contract.V1.LeaseState.Unspecified, states);
        Assert.Equal(states.Count, states.Distinct().Count());
        Assert.DoesNotContain(NodeAgent.Contract.V1.PowerState.Unspecified, powers);
        Assert.Equal(powers.Count, powers.Distinct().Count());
    }
}
