using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Metering;
using NodeAgent.Agent.Processes;
using NodeAgent.Agent.Reporting;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>
/// Every transition of the workspace state machine against libvirt's test driver, and a crash after every
/// step of create, reboot and destroy: the crash is an exception thrown at the failpoint, after which a new
/// machine (as after an agent restart) must finish the job without redoing or forgetting a step.
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class WorkspaceMachineTests : IAsyncLifetime
{
    private readonly TempDirectory _state = new();
    private readonly string _id = "w-" + Guid.NewGuid().ToString("N")[..10];
    private LibvirtHypervisor _libvirt = null!;
    private DiskManager _disks = null!;
    private ImageCache _images = null!;
    private WorkspaceImage _image = null!;
    private RpcChannel _nowhere = null!;

    private string DomainName => DomainNames.For(_id);

    public async Task InitializeAsync()
    {
        _libvirt = LibvirtHypervisor.Open("test:///default");
        var runner = new CommandRunner(NullLogger<CommandRunner>.Instance);
        _image = await LocalImages.CreateAsync(Path.Combine(_state.Path, "sources"));
        _disks = new DiskManager(Path.Combine(_state.Path, "workspaces"), runner);
        _images = LocalImages.Cache(Path.Combine(_state.Path, "images"), _disks);

        // Reports are queued, never sent: nothing reads them in these tests.
        _nowhere = new RpcChannel(new Uri("http://127.0.0.1:9"));
    }

    public Task DisposeAsync()
    {
        _libvirt.Destroy(DomainName);
        _libvirt.Undefine(DomainName);
        _libvirt.Dispose();
        _nowhere.Dispose();
        _state.Dispose();
        return Task.CompletedTask;
    }

    private Workspace Wanted(DesiredPower power = DesiredPower.Running, ulong reboots = 0) =>
        new(_id, "alice", "tiny", 1, 32 << 20, 0, DateTimeOffset.UtcNow.AddHours(1), power, reboots) { ImageSource = _image };

    private WorkspaceMachine Machine(IFailpoints failpoints, string hostId = "machine-test", WorkspaceFit? fit = null)
    {
        var lifecycle = new WorkspaceLifecycle(_images, _disks, [new RootDiskHook(_disks), new DomainHook(_libvirt, _disks)], failpoints, NullLogger<WorkspaceLifecycle>.Instance);
        var host = new HostDescription(HostId.Parse(hostId), "h", "x86_64", "test", 2, 1L << 30, 1L << 30);
        var reporter = new StatusReporter(new AgentServiceClient(_nowhere), host, TimeProvider.System, NullLogger<StatusReporter>.Instance);
        var saver = new WorkspaceSaver(_disks, _images, new NodeAgent.Contract.ImageUpload(), new CommandRunner(NullLogger<CommandRunner>.Instance), NullLogger<WorkspaceSaver>.Instance);
        // The usage checkpoint lands in the same list as the steps, with the domain's state when it was taken.
        IUsageCheckpoint usage = failpoints is RecordingFailpoints recording ? new RecordingCheckpoint(recording.Points, _libvirt) : NoUsageCheckpoint.Instance;
        return new WorkspaceMachine(_libvirt, lifecycle, saver, _disks, reporter, failpoints, usage, NodeAgent.Agent.Partitions.NoPartitions.Instance, host, new AgentOptions { StopTimeout = TimeSpan.FromSeconds(30) },
            TimeProvider.System, NullLogger<WorkspaceMachine>.Instance, fit);
    }

    private async Task<(Settled Settled, List<string> Steps)> DriveAsync(Workspace? wanted, string? crashAfter = null)
    {
        var failpoints = new RecordingFailpoints(crashAfter);
        var (settled, _) = await Machine(failpoints).DriveAsync(_id, () => wanted, default);
        return (settled, failpoints.Points);
    }

    private WorkspaceMetadata? Metadata() => WorkspaceMetadata.Parse(_libvirt.GetMetadata(DomainName, WorkspaceMetadata.Namespace));

    [Fact]
    public async Task Create_ProvisionsDefinesStartsAndRecordsRunning()
    {
        var (settled, steps) = await DriveAsync(Wanted());

        Assert.Equal(WorkspaceState.Running, settled.State);
        Assert.Equal(["prepare:disk", "prepare:domain", "provision", "start", "record:running"], steps);
        Assert.Equal(DomainState.Running, _libvirt.FindDomain(DomainName)!.State);
        Assert.Equal(WorkspacePhase.Running, Metadata()!.Phase);
        Assert.True(File.Exists(_disks.RootDiskPath(_id)));

        var (again, none) = await DriveAsync(Wanted());
        Assert.Equal(WorkspaceState.Running, again.State);
        Assert.Empty(none);
    }

    [Fact]
    public async Task StopStartRebootPauseResumeRemove_EachTakesItsStepsAndSettles()
    {
        await DriveAsync(Wanted());

        var (stopped, stopSteps) = await DriveAsync(Wanted(DesiredPower.Stopped));
        Assert.Equal(WorkspaceState.Stopped, stopped.State);
        Assert.Equal(["record:stopping", "usage:running", "acpi-shutdown", "shutdown", "record:stopped"], stopSteps);
        Assert.Equal(DomainState.Shutoff, _libvirt.FindDomain(DomainName)!.State);

        var (started, startSteps) = await DriveAsync(Wanted());
        Assert.Equal(WorkspaceState.Running, started.State);
        Assert.Equal(["record:starting", "start", "record:running"], startSteps);

        var uuid = _libvirt.FindDomain(DomainName)!.Uuid;
        var (rebooted, rebootSteps) = await DriveAsync(Wanted(reboots: 1));
        Assert.Equal(WorkspaceState.Running, rebooted.State);
        Assert.Equal(["record:rebootstopping", "usage:running", "acpi-shutdown", "shutdown", "record:rebootstarting", "start", "record:running"], rebootSteps);
        Assert.Equal(1UL, Metadata()!.Reboots);
        Assert.Equal(uuid, _libvirt.FindDomain(DomainName)!.Uuid);

        var (paused, pauseSteps) = await DriveAsync(Wanted(DesiredPower.Paused, reboots: 1));
        Assert.Equal(WorkspaceState.Paused, paused.State);
        Assert.Equal(["pause", "record:paused"], pauseSteps);
        Assert.Equal(DomainState.Paused, _libvirt.FindDomain(DomainName)!.State);

        var (resumed, resumeSteps) = await DriveAsync(Wanted(reboots: 1));
        Assert.Equal(WorkspaceState.Running, resumed.State);
        Assert.Equal(["unpause", "record:running"], resumeSteps);

        var (gone, removeSteps) = await DriveAsync(null);
        Assert.Equal(WorkspaceState.Gone, gone.State);
        Assert.Equal(["record:removing", "usage:running", "destroy", "cleanup:domain", "cleanup:disk", "cleanup"], removeSteps);
        Assert.Null(_libvirt.FindDomain(DomainName));
        Assert.False(_disks.Exists(_id));
    }

    [Theory]
    [InlineData("prepare:disk")]
    [InlineData("prepare:domain")]
    [InlineData("start")]
    [InlineData("record:running")]
    public async Task CrashDuringCreate_RestartFinishesItWithOneDomain(string crashAfter)
    {
        await Assert.ThrowsAsync<SimulatedCrash>(() => DriveAsync(Wanted(), crashAfter));
        var uuid = _libvirt.FindDomain(DomainName)?.Uuid;

        var (settled, steps) = await DriveAsync(Wanted());

        Assert.Equal(WorkspaceState.Running, settled.State);
        Assert.Equal(DomainState.Running, _libvirt.FindDomain(DomainName)!.State);
        Assert.Equal(WorkspacePhase.Running, Metadata()!.Phase);
        Assert.Equal(1, _libvirt.ListDomains().Count(d => d.Name == DomainName));
        if (uuid is not null)
        {
            // Defined before the crash: the restart kept that domain instead of making another.
            Assert.Equal(uuid, _libvirt.FindDomain(DomainName)!.Uuid);
            Assert.DoesNotContain("provision", steps);
        }
    }

    [Theory]
    [InlineData("record:removing")]
    [InlineData("destroy")]
    [InlineData("cleanup:domain")]
    [InlineData("cleanup:disk")]
    public async Task CrashDuringRemoval_RestartFinishesItAndLeavesNothing(string crashAfter)
    {
        await DriveAsync(Wanted());
        await Assert.ThrowsAsync<SimulatedCrash>(() => DriveAsync(null, crashAfter));

        var (settled, _) = await DriveAsync(null);

        Assert.Equal(WorkspaceState.Gone, settled.State);
        Assert.Null(_libvirt.FindDomain(DomainName));
        Assert.False(_disks.Exists(_id));
    }

    [Fact]
    public async Task CrashAfterRemovalBegan_WorkspaceWantedAgain_RemovalIsFinishedBeforeAnythingElse()
    {
        await DriveAsync(Wanted());
        var before = _libvirt.FindDomain(DomainName)!.Uuid;
        await Assert.ThrowsAsync<SimulatedCrash>(() => DriveAsync(null, "record:removing"));

        var (settled, steps) = await DriveAsync(Wanted());

        // The half-removed workspace is not revived: it is removed to the end, and only then made anew.
        Assert.Equal(["usage:running", "destroy", "cleanup:domain", "cleanup:disk", "cleanup"], steps.Take(5));
        Assert.Equal(WorkspaceState.Running, settled.State);
        Assert.NotEqual(before, _libvirt.FindDomain(DomainName)!.Uuid);
    }

    [Theory]
    [InlineData("record:rebootstopping")]
    [InlineData("acpi-shutdown")]
    [InlineData("shutdown")]
    [InlineData("record:rebootstarting")]
    [InlineData("start")]
    public async Task CrashDuringReboot_RestartCompletesItExactlyOnce(string crashAfter)
    {
        await DriveAsync(Wanted());
        var crashed = new RecordingFailpoints(crashAfter);
        await Assert.ThrowsAsync<SimulatedCrash>(() => Machine(crashed).DriveAsync(_id, () => Wanted(reboots: 1), default));

        var (settled, steps) = await DriveAsync(Wanted(reboots: 1));

        Assert.Equal(WorkspaceState.Running, settled.State);
        Assert.Equal(1UL, Metadata()!.Reboots);
        Assert.Equal(1, crashed.Points.Concat(steps).Count(p => p == "start"));
        Assert.Equal(1, crashed.Points.Concat(steps).Count(p => p == "record:rebootstarting"));
    }

    [Fact]
    public async Task CrashDuringStop_RestartKeepsTheOriginalDeadline()
    {
        await DriveAsync(Wanted());
        await Assert.ThrowsAsync<SimulatedCrash>(() => DriveAsync(Wanted(DesiredPower.Stopped), "record:stopping"));
        var began = Metadata()!.Since;

        var decided = WorkspaceSteps.Decide(Wanted(DesiredPower.Stopped), Machine(new NoFailpoints()).Observe(_id), DateTimeOffset.UtcNow, TimeSpan.FromSeconds(30));

        Assert.Equal(began + TimeSpan.FromSeconds(30), Assert.IsType<Shutdown>(decided).Deadline);
        var (settled, _) = await DriveAsync(Wanted(DesiredPower.Stopped));
        Assert.Equal(WorkspaceState.Stopped, settled.State);
    }

    [Fact]
    public async Task DomainMadeByAnotherHostsAgent_IsForeignHereAndNeverTouched()
    {
        await Machine(new NoFailpoints(), hostId: "other-host").DriveAsync(_id, () => Wanted(), default);

        var inventory = new WorkspaceInventory(_libvirt, "machine-test");
        var held = inventory.Refresh();
        var (settled, _) = await Machine(new NoFailpoints()).DriveAsync(_id, () => null, default);

        Assert.DoesNotContain(_id, held.Keys);
        Assert.True(inventory.Foreign.Domains >= 1);
        Assert.Equal(WorkspaceState.Failed, settled.State);
        Assert.Contains("other-host", settled.Message, StringComparison.Ordinal);
        Assert.Equal(DomainState.Running, _libvirt.FindDomain(DomainName)?.State);
        Assert.Contains(_id, new WorkspaceInventory(_libvirt, "other-host").Refresh().Keys);
    }

    [Fact]
    public async Task Provision_DoesNotFitWhatTheHostHasLeft_RefusedNamingWhatIsShortAndNothingIsMade()
    {
        // The test driver's own domain "test" runs (2 vCPUs): foreign to NodeAgent, but its vCPUs are in use. The host
        // offers 4 vCPUs, so 2 are left.
        var host = new HostDescription(HostId.Parse("machine-test"), "h", "x86_64", "test", 4, 32L << 30, 1L << 30);
        var fit = new WorkspaceFit(host, new CapacityPolicy(0, 0, 1, 1), new WorkspaceInventory(_libvirt, "machine-test"));
        var tooBig = Wanted() with { Vcpus = 3 };

        var refused = await Assert.ThrowsAsync<WorkspaceRefusedException>(() => Machine(new NoFailpoints(), fit: fit).DriveAsync(_id, () => tooBig, default));
        var (fits, _) = await Machine(new NoFailpoints(), fit: fit).DriveAsync(_id, () => Wanted() with { Vcpus = 2 }, default);

        Assert.Contains("host machine-test cannot take it: 3 vCPUs asked, 2 of 4 left", refused.Message, StringComparison.Ordinal);
        Assert.Contains("1 domains NodeAgent did not make 2", refused.Message, StringComparison.Ordinal);
        Assert.Equal(WorkspaceState.Running, fits.State);
    }

    [Fact]
    public async Task Provision_RefusedWorkspace_LeavesNoDomainAndNoFiles()
    {
        var host = new HostDescription(HostId.Parse("machine-test"), "h", "x86_64", "test", 1, 32L << 30, 1L << 30);
        var fit = new WorkspaceFit(host, new CapacityPolicy(0, 0, 1, 1), new WorkspaceInventory(_libvirt, "machine-test"));

        await Assert.ThrowsAsync<WorkspaceRefusedException>(() => Machine(new NoFailpoints(), fit: fit).DriveAsync(_id, () => Wanted(), default));

        Assert.Null(_libvirt.FindDomain(DomainName));
        Assert.False(_disks.Exists(_id));
    }

    private sealed class SimulatedCrash(string point) : Exception($"simulated crash after {point}");

    /// <summary>Records every failpoint reached, and throws at the named one: the process "dies" right after that step.</summary>
    private sealed class RecordingFailpoints(string? crashAfter) : IFailpoints
    {
        public List<string> Points { get; } = [];

        public void Reached(string workspaceId, string point)
        {
            Points.Add(point);
            if (point == crashAfter)
            {
                throw new SimulatedCrash(point);
            }
        }
    }

    /// <summary>Notes each usage checkpoint with the domain's state at that moment: it must come while QEMU still runs.</summary>
    private sealed class RecordingCheckpoint(List<string> points, LibvirtHypervisor libvirt) : IUsageCheckpoint
    {
        public void BeforePowerOff(string workspaceId) =>
            points.Add("usage:" + (libvirt.FindDomain(DomainNames.For(workspaceId))?.State.ToString().ToLowerInvariant() ?? "none"));
    }
}
