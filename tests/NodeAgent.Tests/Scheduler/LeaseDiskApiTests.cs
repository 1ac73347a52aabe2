using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Images, disks and saves of leases through the scheduler's real API and its real image repository; the
/// host's side is played over the real agent protocol.
/// </summary>
public sealed class LeaseDiskApiTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;
    private ImageServiceClient _images = null!;
    private FakeAgent _agent = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        _images = new ImageServiceClient(_channel);
        _agent = new FakeAgent(_channel, "h1");
        await _agent.RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private static CreateLeaseRequest Request(string image = "debian-12") => new()
    {
        Image = image,
        Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20, DiskBytes = 10UL << 30 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
    };

    private Task<Lease> GetAsync(string id) => _leases.GetLeaseAsync(new GetLeaseRequest { Id = id });

    private async Task<Image> AddKernelBootedImageAsync()
    {
        await _images.AddImageAsync(new AddImageRequest { Name = "k", Format = ImageFormat.Kernel, Url = "https://images.example/k", Sha256 = new string('1', 64) });
        return await _images.AddImageAsync(new AddImageRequest
        {
            Name = "booted", Url = "https://images.example/booted", Sha256 = new string('2', 64), SizeBytes = 4096, Kernel = "k", KernelCmdline = "console=ttyS0",
        });
    }

    private async Task<Lease> StoppedLeaseAsync(CreateLeaseRequest request)
    {
        var lease = await _leases.CreateLeaseAsync(request);
        await _agent.ReportAsync(lease.Id, WorkspaceState.Running);
        await _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Stop });
        await _agent.ReportAsync(lease.Id, WorkspaceState.Stopped);
        return await GetAsync(lease.Id);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_ImageDataDisksAndLimits_ResolvedStoredAndHandedToTheHost()
    {
        var image = await AddKernelBootedImageAsync();
        var request = Request("booted");
        request.DataDiskBytes.Add([20UL << 30, 1UL << 30]);
        request.DiskLimits = new DiskLimits { TotalIops = 800, TotalBytesPerSecond = 100UL << 20 };

        var lease = await _leases.CreateLeaseAsync(request);
        var spec = (await _agent.DesiredAsync()).Workspaces.Single(w => w.Id == lease.Id);
        var host = (await new HostServiceClient(_channel).GetHostAsync(new GetHostRequest { HostId = "h1" })).Allocated;

        Assert.Equal(LeaseState.Starting, lease.State);
        Assert.Equal((image.Version, image.Sha256, image.Url, "k", "console=ttyS0"), (spec.Image.Version, spec.Image.Sha256, spec.Image.Url, spec.Image.Kernel.Name, spec.Image.KernelCmdline));
        Assert.Equal(new string('1', 64), spec.Image.Kernel.Sha256);
        Assert.Equal([20UL << 30, 1UL << 30], spec.DataDiskBytes);
        Assert.Equal(800UL, spec.DiskLimits.TotalIops);
        Assert.Equal(lease.ImageRef, spec.Image);
        Assert.Equal(31UL << 30, host.DiskBytes);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_DataDisksBeyondTheHostsDisk_FailsWithInsufficientDisk()
    {
        var request = Request();
        request.DataDiskBytes.Add(95UL << 30);

        var lease = await _leases.CreateLeaseAsync(request);

        Assert.Equal(LeaseState.Failed, lease.State);
        Assert.Contains("insufficient disk", lease.StateReason, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("nine-disks", "data_disk_bytes has 9 entries")]
    [InlineData("tiny-disk", "data_disk_bytes[0] is 4096")]
    [InlineData("iops", "disk_limits.total_iops is")]
    public async Task CreateLease_BadDiskValues_InvalidArgumentNamingEach(string what, string named)
    {
        var request = Request();
        switch (what)
        {
            case "nine-disks": request.DataDiskBytes.Add(Enumerable.Repeat(1UL << 30, 9)); break;
            case "tiny-disk": request.DataDiskBytes.Add(4096); break;
            default: request.DiskLimits = new DiskLimits { TotalIops = ulong.MaxValue }; break;
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_UnknownRetiredOrKernelImage_RefusedWithWhatToDoAndNothingStored()
    {
        await AddKernelBootedImageAsync();
        await _images.RetireImageAsync(new RetireImageRequest { Name = "tiny" });

        var unknown = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request("no-such")));
        var retired = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request("tiny")));
        var kernel = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request("k")));

        Assert.Equal((StatusCode.NotFound, StatusCode.FailedPrecondition, StatusCode.InvalidArgument), (unknown.Status, retired.Status, kernel.Status));
        Assert.Contains("ws image list", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("is a kernel, not a disk image", kernel.Message, StringComparison.Ordinal);
        Assert.Empty((await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_OneHostHasTheImageCached_PlacedThere()
    {
        var other = new FakeAgent(_channel, "h0");
        await other.RegisterAsync();
        var digest = (await _images.GetImageAsync(new GetImageRequest { Name = "debian-12" })).Sha256;
        await _agent.HeartbeatWithImagesAsync(digest);

        var lease = await _leases.CreateLeaseAsync(Request());

        Assert.Equal("h1", lease.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task Report_DiskUsageAndALongMultiLineFailureMessage_StoredOnTheLeaseAsOneLine()
    {
        var lease = await _leases.CreateLeaseAsync(Request());
        await _agent.ReportAsync(new WorkspaceStatus { Id = lease.Id, State = WorkspaceState.Running, DiskAllocatedBytes = 31UL << 30, DiskUsedBytes = 300UL << 20 });
        var measured = await GetAsync(lease.Id);
        var why = "virDomainCreate failed: Child process (tc filter add …) unexpected exit status 2: Error: Failed\nWe have an error talking to the kernel\r\n\t" + new string('x', 600);

        await _agent.ReportAsync(lease.Id, WorkspaceState.Failed, message: why);
        var failed = await GetAsync(lease.Id);

        Assert.Equal((31UL << 30, 300UL << 20), (measured.DiskAllocatedBytes, measured.DiskUsedBytes));
        Assert.Equal(LeaseState.Failed, failed.State);
        Assert.Contains("Error: Failed We have an error talking to the kernel " + new string('x', 600), failed.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Save_StoppedLease_HostUploadsAndReportsThenTheImageIsInTheCatalogueOwnedByTheLeasesOwner()
    {
        await AddKernelBootedImageAsync();
        var lease = await StoppedLeaseAsync(Request("booted"));

        var asked = await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "my-env", Description = "with my tools" });
        var spec = await _agent.WaitForSpecAsync(lease.Id, s => s.Save is not null, TimeSpan.FromSeconds(5));
        var bytes = RandomNumberGenerator.GetBytes(100_000);
        var file = Path.Combine(_scheduler.Directory.Path, "saved.qcow2");
        await File.WriteAllBytesAsync(file, bytes);
        var digest = await NodeAgent.Contract.ImageUpload.ComputeSha256Async(file, default);
        using (var upload = new NodeAgent.Contract.ImageUpload())
        {
            await upload.UploadAsync(new Uri(spec.Save.UploadUrl), file, digest, null, default);
        }

        var done = new WorkspaceStatus
        {
            Id = lease.Id, State = WorkspaceState.Stopped,
            Save = new SaveResult { Generation = 1, Done = true, Sha256 = digest, SizeBytes = (ulong)bytes.Length },
        };
        await _agent.ReportAsync(done);
        await _agent.ReportAsync(done);
        var saved = await GetAsync(lease.Id);
        var versions = (await _images.ListImagesAsync(new ListImagesRequest { Name = "my-env" })).Images;

        Assert.Equal((SaveState.Saving, 1UL, "my-env"), (asked.Save.State, spec.Save.Generation, spec.Save.ImageName));
        Assert.Equal((SaveState.Saved, 1U), (saved.Save.State, saved.Save.ImageVersion));
        var image = Assert.Single(versions);
        Assert.Equal(("anonymous", digest, (ulong)bytes.Length, lease.Id, "k:1", "with my tools"), (image.Owner, image.Sha256, image.SizeBytes, image.SavedFromLease, image.Kernel, image.Description));
        // The upload URL carries the save's grant (docs/security.md); the image's URL is the repository's, without one.
        Assert.Contains($"?lease={lease.Id}&generation=1&", spec.Save.UploadUrl, StringComparison.Ordinal);
        Assert.Equal(new Uri(spec.Save.UploadUrl).GetLeftPart(UriPartial.Path) + "/sha256/" + digest, image.Url);
    }

    [Fact(Timeout = 10_000)]
    public async Task Save_HostReportsADigestTheRepositoryNeverGot_SaveFailsAndNoImageIsAdded()
    {
        var lease = await StoppedLeaseAsync(Request());
        await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "my-env" });

        await _agent.ReportAsync(new WorkspaceStatus
        {
            Id = lease.Id, State = WorkspaceState.Stopped,
            Save = new SaveResult { Generation = 1, Done = true, Sha256 = new string('e', 64), SizeBytes = 10 },
        });
        var failed = await GetAsync(lease.Id);

        Assert.Equal(SaveState.Failed, failed.Save.State);
        Assert.Contains("did not arrive", failed.Save.Reason, StringComparison.Ordinal);
        Assert.Empty((await _images.ListImagesAsync(new ListImagesRequest { Name = "my-env", IncludeRetired = true })).Images);
    }

    [Fact(Timeout = 10_000)]
    public async Task Save_HostReportsFailure_SaveFailedWithItsReasonAndCanBeAskedAgain()
    {
        var lease = await StoppedLeaseAsync(Request());
        await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "my-env" });

        await _agent.ReportAsync(new WorkspaceStatus
        {
            Id = lease.Id, State = WorkspaceState.Stopped,
            Save = new SaveResult { Generation = 1, Done = true, Error = "the filesystem of /var/lib/nodeagent/workspaces/x is full" },
        });
        var failed = await GetAsync(lease.Id);
        var again = await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "my-env" });

        Assert.Equal((SaveState.Failed, "the filesystem of /var/lib/nodeagent/workspaces/x is full"), (failed.Save.State, failed.Save.Reason));
        Assert.Equal((SaveState.Saving, 2UL), (again.Save.State, again.Save.Generation));
    }

    [Fact(Timeout = 10_000)]
    public async Task Save_RunningLeaseOrSomeoneElsesImageName_FailedPreconditionSayingWhatToDo()
    {
        var running = await _leases.CreateLeaseAsync(Request());
        await _agent.ReportAsync(running.Id, WorkspaceState.Running);
        var stopped = await StoppedLeaseAsync(Request());

        var whileRunning = await Assert.ThrowsAsync<RpcException>(() => _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = running.Id, ImageName = "mine" }));
        var intoAdmins = await Assert.ThrowsAsync<RpcException>(() => _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = stopped.Id, ImageName = "debian-12" }));
        var badName = await Assert.ThrowsAsync<RpcException>(() => _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = stopped.Id, ImageName = "../etc" }));

        Assert.Equal(StatusCode.FailedPrecondition, whileRunning.Status);
        Assert.Contains($"ws stop {running.Id}", whileRunning.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, intoAdmins.Status);
        Assert.Contains("belongs to admin", intoAdmins.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, badName.Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task Save_WhileSaving_StartRefusedAndReleaseFailsTheSave()
    {
        var lease = await StoppedLeaseAsync(Request());
        await _leases.SaveLeaseAsync(new SaveLeaseRequest { Id = lease.Id, ImageName = "my-env" });

        var start = await Assert.ThrowsAsync<RpcException>(() => _leases.SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Start }));
        var released = await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(StatusCode.FailedPrecondition, start.Status);
        Assert.Contains("being saved as my-env", start.Message, StringComparison.Ordinal);
        Assert.Equal((SaveState.Failed, "the lease released before the save finished"), (released.Save.State, released.Save.Reason));
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_Limits_StoredShownAndHandedToTheHost()
    {
        var request = Request();
        request.Limits = new WorkspaceLimits { CpuWeight = 512, CpuCapPercent = 50, MemoryHardLimitBytes = 1UL << 30, NicOutboundBytesPerSecond = 10UL << 20 };

        var lease = await _leases.CreateLeaseAsync(request);
        var spec = (await _agent.DesiredAsync()).Workspaces.Single(w => w.Id == lease.Id);

        Assert.Equal(request.Limits, lease.Limits);
        Assert.Equal(request.Limits, spec.Limits);
        Assert.Equal(request.Limits, (await GetAsync(lease.Id)).Limits);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_LimitsOutOfRange_InvalidArgumentListingEach()
    {
        var request = Request();
        request.Limits = new WorkspaceLimits { CpuWeight = 1, CpuCapPercent = 150, MemoryHardLimitBytes = 600UL << 20, NicInboundBytesPerSecond = 10 };

        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("limits.cpu_weight is 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("limits.cpu_cap_percent is 150", error.Message, StringComparison.Ordinal);
        Assert.Contains("plus 128 MiB for QEMU itself", error.Message, StringComparison.Ordinal);
        Assert.Contains("limits.nic_inbound_bytes_per_second is 10", error.Message, StringComparison.Ordinal);
    }
}
