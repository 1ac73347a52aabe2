using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Scheduler;

/// <summary>When a lease may be saved, what a save's outcome does to it, and the image-cached placement preference.</summary>
public sealed class LeaseSavingTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    private static Lease Stopped() => LeaseStateMachineTests.Lease(LeaseState.Stopped, PowerState.Stopped) with
    {
        ImageRef = new V1.ImageRef { Name = "debian-12", Version = 2, Sha256 = new string('a', 64) },
    };

    [Theory]
    [InlineData(LeaseState.Running, PowerState.Running, "ws stop w-testlease2")]
    [InlineData(LeaseState.Paused, PowerState.Paused, "ws stop w-testlease2")]
    [InlineData(LeaseState.Stopping, PowerState.Running, "only a lease whose workspace is stopped")]
    [InlineData(LeaseState.Ended, PowerState.Running, "only a lease whose workspace is stopped")]
    public void Ask_WorkspaceNotStopped_RefusedWithWhatToDo(LeaseState state, PowerState power, string advice)
    {
        var lease = LeaseStateMachineTests.Lease(state, power) with { ImageRef = Stopped().ImageRef };

        var error = Assert.Throws<LeaseStateException>(() => LeaseSaving.Ask(lease, "mine", string.Empty, Now));

        Assert.Contains(advice, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ask_StoppedLease_RecordsTheNextGenerationAsSaving()
    {
        var first = LeaseSaving.Ask(Stopped(), "mine", "my env", Now);
        var failed = LeaseSaving.Finish(first, 1, "disk full", 0, Now)!;
        var second = LeaseSaving.Ask(failed, "mine", string.Empty, Now.AddMinutes(1));

        Assert.Equal(new LeaseSave("mine", 1, SaveState.Saving, string.Empty, 0, Now, "my env"), first.Save);
        Assert.Equal(2, second.Save!.Generation);
        Assert.Equal(SaveState.Saving, second.Save.State);
    }

    [Fact]
    public void Ask_WhileASaveRuns_RefusedUntilItIsDone()
    {
        var saving = LeaseSaving.Ask(Stopped(), "mine", string.Empty, Now);

        var error = Assert.Throws<LeaseStateException>(() => LeaseSaving.Ask(saving, "other", string.Empty, Now));

        Assert.Contains("already being saved as mine", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ask_LeaseFromBeforeTheCatalogue_Refused()
    {
        var error = Assert.Throws<LeaseStateException>(() => LeaseSaving.Ask(Stopped() with { ImageRef = null }, "mine", string.Empty, Now));

        Assert.Contains("before the image catalogue existed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Finish_ReportOfAnotherGeneration_ChangesNothing()
    {
        var saving = LeaseSaving.Ask(Stopped(), "mine", string.Empty, Now);

        Assert.Null(LeaseSaving.Finish(saving, 7, null, 3, Now));
        Assert.Null(LeaseSaving.Finish(Stopped(), 1, null, 3, Now));
    }

    [Fact]
    public void Finish_SuccessAndFailure_RecordVersionOrReason()
    {
        var saving = LeaseSaving.Ask(Stopped(), "mine", string.Empty, Now);

        var saved = LeaseSaving.Finish(saving, 1, string.Empty, 4, Now)!.Save!;
        var failed = LeaseSaving.Finish(saving, 1, "no space left", 0, Now)!.Save!;

        Assert.Equal((SaveState.Saved, 4), (saved.State, saved.ImageVersion));
        Assert.Equal((SaveState.Failed, "no space left"), (failed.State, failed.Reason));
    }

    [Fact]
    public void Abandon_LeaseReleasedWhileSaving_FailsTheSave()
    {
        var saving = LeaseSaving.Ask(Stopped(), "mine", string.Empty, Now);

        var abandoned = LeaseSaving.Abandon(saving, "released", Now).Save!;

        Assert.Equal(SaveState.Failed, abandoned.State);
        Assert.Equal("the lease released before the save finished", abandoned.Reason);
    }

    [Theory]
    [InlineData(PowerAction.Start, true)]
    [InlineData(PowerAction.Reboot, true)]
    [InlineData(PowerAction.Resume, true)]
    [InlineData(PowerAction.Stop, false)]
    public void CheckPower_WhileSaving_OnlyKeepingItStoppedIsAllowed(PowerAction action, bool refused)
    {
        var saving = LeaseSaving.Ask(Stopped(), "mine", string.Empty, Now);

        var error = Record.Exception(() => LeaseSaving.CheckPower(saving, action));

        Assert.Equal(refused, error is LeaseStateException);
    }

    [Fact]
    public void ImageCachedRanker_HostWithTheImage_WinsOverASlightlyLessBusyHost()
    {
        var digest = new string('b', 64);
        var busy = Candidate("busy", cpu: 0.30, cached: [digest]);
        var idle = Candidate("idle", cpu: 0.15, cached: []);
        var request = new PlacementRequest(new Resources(1, 256L << 20, 0)) { ImageSha256 = digest };

        var decision = PlacementPipeline.Default().Decide([idle, busy], request);
        var withoutImage = PlacementPipeline.Default().Decide([idle, busy], request with { ImageSha256 = null });

        Assert.Equal("busy", decision.Host!.Value.Value);
        Assert.Equal("idle", withoutImage.Host!.Value.Value);
    }

    private static PlacementCandidate Candidate(string id, double cpu, string[] cached)
    {
        var capacity = new Resources(8, 16L << 30, 100L << 30);
        var registration = new HostRegistration(NodeAgent.Contract.HostId.Parse(id), id, "1", "x86_64", "qemu", capacity,
            new Dictionary<string, string>(), []);
        var host = new HostRecord(registration, new HostLoad(cpu, 8L << 30, 0, 0, Resources.None), Resources.None, Now, Now, 1);
        return new PlacementCandidate(host, HostHealth.Up, capacity) { CachedImages = cached.ToHashSet() };
    }
}
