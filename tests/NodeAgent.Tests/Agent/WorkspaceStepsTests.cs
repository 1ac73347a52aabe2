using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Agent;

/// <summary>The workspace state machine's decision table, one observed situation at a time.</summary>
public sealed class WorkspaceStepsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private static Workspace Wanted(DesiredPower power = DesiredPower.Running, ulong reboots = 0) =>
        new("w-1", "alice", "tiny", 1, 64 << 20, 0, Now.AddHours(1), power, reboots);

    private static WorkspaceMetadata Phase(WorkspacePhase phase, DateTimeOffset? since = null, ulong reboots = 0, ulong target = 0) =>
        new("w-1", "alice", "tiny", Now.AddHours(1), phase, since ?? Now.AddMinutes(-5), reboots, target);

    private static Observed Domain(DomainState state, WorkspaceMetadata? metadata, int reason = 0) =>
        new(new DomainInfo("nodeagent-w-1", Guid.Empty, state, reason), metadata, HasFiles: true, WasDefined: true);

    private static WorkspaceStep Decide(Workspace? wanted, Observed observed) => WorkspaceSteps.Decide(wanted, observed, Now, StopTimeout);

    [Fact]
    public void NothingThere_Wanted_Provisions() =>
        Assert.IsType<Provision>(Decide(Wanted(), new Observed(null, null, HasFiles: false, WasDefined: false)));

    [Fact]
    public void FilesLeftFromACrashedCreate_Wanted_ProvisionsAgain() =>
        Assert.IsType<Provision>(Decide(Wanted(), new Observed(null, null, HasFiles: true, WasDefined: false)));

    [Fact]
    public void DomainLostOutsideNodeAgent_IsReportedGoneAndNotRecreated()
    {
        var step = Assert.IsType<Settled>(Decide(Wanted(), new Observed(null, null, HasFiles: true, WasDefined: true)));
        Assert.Equal(WorkspaceState.Gone, step.State);
        Assert.Contains("undefined outside NodeAgent", step.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FilesWithoutDomain_NotWanted_AreCleanedUp() =>
        Assert.IsType<Cleanup>(Decide(null, new Observed(null, null, HasFiles: true, WasDefined: true)));

    [Fact]
    public void NothingThere_NotWanted_IsGone() =>
        Assert.Equal(WorkspaceState.Gone, Assert.IsType<Settled>(Decide(null, new Observed(null, null, false, false))).State);

    [Fact]
    public void Removal_FirstPersistsRemovingThenPowersOffThenCleansUp()
    {
        var record = Assert.IsType<RecordPhase>(Decide(null, Domain(DomainState.Running, Phase(WorkspacePhase.Running))));
        Assert.Equal(WorkspacePhase.Removing, record.Next.Phase);
        Assert.IsType<PowerOff>(Decide(null, Domain(DomainState.Running, Phase(WorkspacePhase.Removing))));
        Assert.IsType<Cleanup>(Decide(null, Domain(DomainState.Shutoff, Phase(WorkspacePhase.Removing), reason: 2)));
    }

    [Fact]
    public void Removing_IsFinishedEvenIfTheWorkspaceIsWantedAgain() =>
        Assert.IsType<PowerOff>(Decide(Wanted(), Domain(DomainState.Running, Phase(WorkspacePhase.Removing))));

    [Fact]
    public void Starting_NotYetRunning_Starts() =>
        Assert.IsType<Start>(Decide(Wanted(), Domain(DomainState.Shutoff, Phase(WorkspacePhase.Starting))));

    [Fact]
    public void Starting_AlreadyRunning_RecordsRunningWithoutStartingAgain()
    {
        var record = Assert.IsType<RecordPhase>(Decide(Wanted(reboots: 2), Domain(DomainState.Running, Phase(WorkspacePhase.Starting))));
        Assert.Equal(WorkspacePhase.Running, record.Next.Phase);
        Assert.Equal(2UL, record.Next.Reboots);
    }

    [Fact]
    public void Running_AsWanted_IsSettled() =>
        Assert.Equal(WorkspaceState.Running, Assert.IsType<Settled>(Decide(Wanted(), Domain(DomainState.Running, Phase(WorkspacePhase.Running)))).State);

    [Fact]
    public void Running_ShutOffOnItsOwn_IsReportedNeverRestarted()
    {
        var settled = Assert.IsType<Settled>(Decide(Wanted(), Domain(DomainState.Shutoff, Phase(WorkspacePhase.Running), reason: 1)));
        Assert.Equal(WorkspaceState.Stopped, settled.State);
        Assert.Equal("the guest shut itself down", settled.Message);
    }

    [Fact]
    public void Stop_PersistsStoppingWithItsStartThenShutsDownByTheDeadline()
    {
        var record = Assert.IsType<RecordPhase>(Decide(Wanted(DesiredPower.Stopped), Domain(DomainState.Running, Phase(WorkspacePhase.Running))));
        Assert.Equal((WorkspacePhase.Stopping, Now), (record.Next.Phase, record.Next.Since));

        var since = Now.AddSeconds(-20);
        var shutdown = Assert.IsType<Shutdown>(Decide(Wanted(DesiredPower.Stopped), Domain(DomainState.Running, Phase(WorkspacePhase.Stopping, since))));
        Assert.Equal(since + StopTimeout, shutdown.Deadline);

        var stopped = Assert.IsType<RecordPhase>(Decide(Wanted(DesiredPower.Stopped), Domain(DomainState.Shutoff, Phase(WorkspacePhase.Stopping, since), reason: 1)));
        Assert.Equal(WorkspacePhase.Stopped, stopped.Next.Phase);
        Assert.Equal(WorkspaceState.Stopped, Assert.IsType<Settled>(Decide(Wanted(DesiredPower.Stopped), Domain(DomainState.Shutoff, Phase(WorkspacePhase.Stopped)))).State);
    }

    [Fact]
    public void Stopped_WantedRunning_StartsAndAPendingRebootIsSatisfiedByTheStart()
    {
        var record = Assert.IsType<RecordPhase>(Decide(Wanted(reboots: 3), Domain(DomainState.Shutoff, Phase(WorkspacePhase.Stopped, reboots: 1))));
        Assert.Equal((WorkspacePhase.Starting, 3UL), (record.Next.Phase, record.Next.Reboots));
    }

    [Fact]
    public void Stopped_StartedFromOutside_IsStoppedAgain() =>
        Assert.Equal(WorkspacePhase.Stopping, Assert.IsType<RecordPhase>(Decide(Wanted(DesiredPower.Stopped), Domain(DomainState.Running, Phase(WorkspacePhase.Stopped)))).Next.Phase);

    [Fact]
    public void Reboot_GoesThroughStopAndStartExactlyOnce()
    {
        var begin = Assert.IsType<RecordPhase>(Decide(Wanted(reboots: 1), Domain(DomainState.Running, Phase(WorkspacePhase.Running))));
        Assert.Equal((WorkspacePhase.RebootStopping, 1UL, 0UL), (begin.Next.Phase, begin.Next.RebootTarget, begin.Next.Reboots));
        Assert.IsType<Shutdown>(Decide(Wanted(reboots: 1), Domain(DomainState.Running, begin.Next)));
        var half = Assert.IsType<RecordPhase>(Decide(Wanted(reboots: 1), Domain(DomainState.Shutoff, begin.Next, reason: 1)));
        Assert.Equal(WorkspacePhase.RebootStarting, half.Next.Phase);
        Assert.IsType<Start>(Decide(Wanted(reboots: 1), Domain(DomainState.Shutoff, half.Next)));
        var done = Assert.IsType<RecordPhase>(Decide(Wanted(reboots: 1), Domain(DomainState.Running, half.Next)));
        Assert.Equal((WorkspacePhase.Running, 1UL), (done.Next.Phase, done.Next.Reboots));
        Assert.IsType<Settled>(Decide(Wanted(reboots: 1), Domain(DomainState.Running, done.Next)));
    }

    [Fact]
    public void Pause_PausesThenRecordsPaused_ResumeUnpausesThenRecordsRunning()
    {
        Assert.IsType<Pause>(Decide(Wanted(DesiredPower.Paused), Domain(DomainState.Running, Phase(WorkspacePhase.Running))));
        Assert.Equal(WorkspacePhase.Paused, Assert.IsType<RecordPhase>(Decide(Wanted(DesiredPower.Paused), Domain(DomainState.Paused, Phase(WorkspacePhase.Running)))).Next.Phase);
        Assert.Equal(WorkspaceState.Paused, Assert.IsType<Settled>(Decide(Wanted(DesiredPower.Paused), Domain(DomainState.Paused, Phase(WorkspacePhase.Paused)))).State);
        Assert.IsType<Unpause>(Decide(Wanted(), Domain(DomainState.Paused, Phase(WorkspacePhase.Paused))));
        Assert.Equal(WorkspacePhase.Running, Assert.IsType<RecordPhase>(Decide(Wanted(), Domain(DomainState.Running, Phase(WorkspacePhase.Paused)))).Next.Phase);
    }

    [Fact]
    public void PausedOutsideNodeAgent_IsReportedNotUndone()
    {
        var settled = Assert.IsType<Settled>(Decide(Wanted(), Domain(DomainState.Paused, Phase(WorkspacePhase.Running), reason: 1)));
        Assert.Equal(WorkspaceState.Paused, settled.State);
        Assert.Contains("outside NodeAgent", settled.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DomainWithoutMetadata_RunningIsAdoptedAsRunning() =>
        Assert.Equal(WorkspaceState.Running, Assert.IsType<Settled>(Decide(Wanted(), Domain(DomainState.Running, null))).State);

    [Fact]
    public void Metadata_RoundTripsThroughItsElementAndToleratesOldElements()
    {
        var metadata = Phase(WorkspacePhase.RebootStopping, Now, reboots: 4, target: 5) with { Owner = "<alice & \"bob\">" };
        Assert.Equal(metadata, WorkspaceMetadata.Parse(metadata.ToElement()));
        var old = WorkspaceMetadata.Parse("<workspace><id>w-1</id><owner>a</owner><image>i</image><expires>2026-11-22T10:00:00Z</expires></workspace>");
        Assert.Equal(WorkspacePhase.Running, old!.Phase);
        Assert.Null(WorkspaceMetadata.Parse("<other/>"));
        Assert.Null(WorkspaceMetadata.Parse("not xml"));
    }
}
