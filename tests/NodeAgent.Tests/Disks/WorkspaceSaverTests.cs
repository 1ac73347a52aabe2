using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Images;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Disks;

/// <summary>
/// Saving a workspace's root disk for real: qemu-img flattens an overlay whose guest wrote into it, the bytes go
/// to the scheduler's real repository, and the file joins the host's image cache; and the same on a workspace
/// filesystem too small to hold the flattened disk (a real 4 MiB tmpfs).
/// </summary>
public sealed class WorkspaceSaverTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly CommandRunner _runner = new(NullLogger<CommandRunner>.Instance);
    private RunningScheduler _scheduler = null!;
    private string? _mount;

    public async Task InitializeAsync() => _scheduler = await RunningScheduler.StartAsync(emptyCatalogue: true);

    public async Task DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        if (_mount is not null)
        {
            await RunAsync("umount", _mount);
        }

        _dir.Dispose();
    }

    /// <summary>A workspace whose root disk is an overlay on a 64 MiB base holding 8 MiB of data, with "GUEST-WROTE" written through the overlay at 1 MiB.</summary>
    private async Task<(DiskManager Disks, ImageCache Cache, WorkspaceImage Base)> WorkspaceAsync(string workspacesDirectory)
    {
        var image = await LocalImages.CreateAsync(Path.Combine(_dir.Path, "sources"), "base", 64L << 20);
        await RunAsync("qemu-io", "-c", "write -P 7 8M 8M", image.Disk.Url.LocalPath);
        image = await LocalImages.CreateFromFileAsync(image.Disk.Url.LocalPath, "base");
        var disks = new DiskManager(workspacesDirectory, _runner);
        var cache = LocalImages.Cache(Path.Combine(_dir.Path, "cache"), disks);
        using (var cached = await cache.AcquireAsync(image.Disk, null, default))
        {
            await disks.PrepareRootDiskAsync("w-save", new BaseImage("base", cached.Path, null, null, null), 0, default);
        }

        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "mark"), "GUEST-WROTE");
        await RunAsync("qemu-io", "-c", $"write -s {Path.Combine(_dir.Path, "mark")} 1M 11", disks.RootDiskPath("w-save"));
        return (disks, cache, image);
    }

    private WorkspaceSaver Saver(DiskManager disks, ImageCache cache) =>
        new(disks, cache, new ImageUpload(new ImageUploadOptions { Retries = 1, Delay = (_, _) => Task.CompletedTask }), _runner, NullLogger<WorkspaceSaver>.Instance);

    private Uri RepositoryUrl => _scheduler.Repository.PublicUrl!;

    [Fact(Timeout = 60_000)]
    public async Task Save_FlattensUploadsAndCachesTheDiskWithWhatTheGuestWrote()
    {
        var (disks, cache, _) = await WorkspaceAsync(Path.Combine(_dir.Path, "workspaces"));

        var outcome = await Saver(disks, cache).SaveAsync("w-save", new WorkspaceSave(1, "mine", RepositoryUrl), default);

        Assert.True(outcome.Succeeded, outcome.Error);
        var stored = _scheduler.Repository.PathOf(outcome.Sha256);
        Assert.Equal(outcome.SizeBytes, new FileInfo(stored).Length);
        Assert.Equal(outcome.Sha256, await ImageUpload.ComputeSha256Async(stored, default));
        Assert.Contains(outcome.Sha256, cache.Digests());
        var info = await _runner.RunCheckedAsync("qemu-img", ["info", "--output=json", stored], TimeSpan.FromSeconds(30), default);
        Assert.DoesNotContain("backing-filename", info, StringComparison.Ordinal);
        Assert.Equal("GUEST-WROTE", await ReadAsync(stored, 1 << 20, 11));
        Assert.Equal(7, (await ReadAsync(stored, 8 << 20, 1))[0]);
        Assert.Empty(Directory.GetFiles(disks.WorkspaceDirectory("w-save"), "save-*"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Save_WorkspaceFilesystemFull_FailsNamingItAndLeavesNothingBehind()
    {
        _mount = Path.Combine(_dir.Path, "small");
        Directory.CreateDirectory(_mount);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", _mount);
        var (disks, cache, _) = await WorkspaceAsync(_mount);
        var before = Directory.GetFiles(disks.WorkspaceDirectory("w-save")).Order().ToList();

        var outcome = await Saver(disks, cache).SaveAsync("w-save", new WorkspaceSave(2, "mine", RepositoryUrl), default);

        Assert.False(outcome.Succeeded);
        Assert.Equal(2UL, outcome.Generation);
        Assert.Contains($"the filesystem of {disks.WorkspaceDirectory("w-save")} is full", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("free space there", outcome.Error, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFiles(disks.WorkspaceDirectory("w-save")).Order().ToList());
        Assert.Empty(Directory.GetFiles(_scheduler.Repository.Directory, "*", SearchOption.AllDirectories));
    }

    [Fact(Timeout = 60_000)]
    public async Task Save_RepositoryUnreachable_FailsNamingTheRepositoryAndLeavesNothingBehind()
    {
        var (disks, cache, _) = await WorkspaceAsync(Path.Combine(_dir.Path, "workspaces"));
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var closed = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}/v1/images");
        listener.Stop();

        var outcome = await Saver(disks, cache).SaveAsync("w-save", new WorkspaceSave(1, "mine", closed), default);

        Assert.False(outcome.Succeeded);
        Assert.Contains(closed.Authority, outcome.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(disks.WorkspaceDirectory("w-save"), "save-*"));
    }

    private static async Task<string> ReadAsync(string qcow2, long offset, int length)
    {
        var raw = Path.GetTempFileName();
        try
        {
            await RunAsync("qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2, raw);
            await using var stream = File.OpenRead(raw);
            stream.Position = offset;
            var buffer = new byte[length];
            await stream.ReadExactlyAsync(buffer);
            return System.Text.Encoding.Latin1.GetString(buffer);
        }
        finally
        {
            File.Delete(raw);
        }
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {await error}");
    }
}
