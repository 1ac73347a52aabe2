using NodeAgent.Agent.Contextualization;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Contextualization;

/// <summary>Seed ISOs built by the real genisoimage and read back by isoinfo (both from Debian's genisoimage package).</summary>
public sealed class SeedImageTests : IDisposable
{
    private static readonly TimeSpan IsoinfoTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dir = new();
    private readonly CommandRunner _runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);

    public void Dispose() => _dir.Dispose();

    private static NoCloudSeed Seed(string id = "w-1") =>
        new(id, "h1", [NoCloudSeedTests.Alice], [NoCloudSeedTests.Nic(dns: ["10.20.0.1"])]);

    private Task<string> IsoinfoAsync(params string[] arguments) => _runner.RunCheckedAsync("isoinfo", arguments, IsoinfoTimeout, default);

    [Fact(Timeout = 60_000)]
    public async Task Build_Seed_IsoLabelledCidataHoldsTheThreeFilesByTheirNames()
    {
        var seed = Seed();

        var iso = await new SeedImage(_runner).BuildAsync(seed, _dir.Path, default);

        Assert.Equal(Path.Combine(_dir.Path, "seed.iso"), iso);
        Assert.Contains("Volume id: cidata", await IsoinfoAsync("-d", "-i", iso), StringComparison.Ordinal);
        var files = NoCloudFiles.Write(seed);
        Assert.Equal(files.MetaData, await IsoinfoAsync("-R", "-i", iso, "-x", "/meta-data"));
        Assert.Equal(files.UserData, await IsoinfoAsync("-R", "-i", iso, "-x", "/user-data"));
        Assert.Equal(files.NetworkConfig, await IsoinfoAsync("-R", "-i", iso, "-x", "/network-config"));
        // Joliet names too, for guests (Windows' cloudbase-init) that read those rather than Rock Ridge.
        Assert.Contains("network-config", await IsoinfoAsync("-J", "-l", "-i", iso), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Build_Seed_ReadableByAllAndNothingElseLeftBeside()
    {
        var iso = await new SeedImage(_runner).BuildAsync(Seed(), _dir.Path, default);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(iso));
        Assert.Equal(["seed.iso"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact(Timeout = 60_000)]
    public async Task Build_AfterACrashHalfWay_LeftoversReplaced()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "seed.iso.partial"), "half an ISO");
        Directory.CreateDirectory(Path.Combine(_dir.Path, "seed.files.partial"));
        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "seed.files.partial", "user-data"), "stale");

        var iso = await new SeedImage(_runner).BuildAsync(Seed(), _dir.Path, default);

        Assert.Equal(NoCloudFiles.Write(Seed()).UserData, await IsoinfoAsync("-R", "-i", iso, "-x", "/user-data"));
        Assert.Equal(["seed.iso"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact(Timeout = 60_000)]
    public async Task Build_IntoAFileNotADirectory_SeedExceptionNamesTheWorkspace()
    {
        var notADirectory = Path.Combine(_dir.Path, "file");
        await File.WriteAllTextAsync(notADirectory, string.Empty);

        var error = await Assert.ThrowsAsync<SeedException>(() => new SeedImage(_runner).BuildAsync(Seed("w-9"), notADirectory, default));

        Assert.Contains("workspace w-9", error.Message, StringComparison.Ordinal);
    }

    private (SeedHook Hook, DiskManager Disks) Hook(Func<Workspace, NoCloudSeed?>? seedFor = null)
    {
        var disks = new DiskManager(Path.Combine(_dir.Path, "workspaces"), _runner);
        return (new SeedHook(new SeedImage(_runner), disks, seedFor ?? (w => Seed(w.Id))), disks);
    }

    private static WorkspaceContext Context(DiskManager disks, string id = "w-1")
    {
        var workspace = new Workspace(id, "alice", "img", 1, 256L << 20, 0, DateTimeOffset.MaxValue);
        var context = new WorkspaceContext(workspace, new BaseImage("img", "/nonexistent/disk.qcow2", null, null, null), new WorkspaceMetadata(id, "alice", "img", DateTimeOffset.MaxValue));
        Directory.CreateDirectory(disks.WorkspaceDirectory(id));
        context.RootDiskPath = disks.RootDiskPath(id);
        return context;
    }

    [Fact(Timeout = 60_000)]
    public async Task SeedHook_PrepareTwice_BuildsOnceAndSetsThePath()
    {
        var (hook, disks) = Hook();
        var first = Context(disks);
        await hook.PrepareAsync(first, default);
        var built = File.GetLastWriteTimeUtc(first.SeedImagePath!);
        var second = Context(disks);

        await hook.PrepareAsync(second, default);

        Assert.Equal(Path.Combine(disks.WorkspaceDirectory("w-1"), "seed.iso"), first.SeedImagePath);
        Assert.Equal(first.SeedImagePath, second.SeedImagePath);
        Assert.Equal(built, File.GetLastWriteTimeUtc(second.SeedImagePath!));
    }

    [Fact(Timeout = 60_000)]
    public async Task SeedHook_NoSeedForTheWorkspace_NoIsoAndNoPath()
    {
        var (hook, disks) = Hook(_ => null);
        var context = Context(disks);

        await hook.PrepareAsync(context, default);

        Assert.Null(context.SeedImagePath);
        Assert.False(File.Exists(Path.Combine(disks.WorkspaceDirectory("w-1"), "seed.iso")));
    }

    [Fact(Timeout = 60_000)]
    public async Task SeedHook_IdentityOnly_SeedNamesTheWorkspace()
    {
        var (hook, disks) = Hook(SeedHook.IdentityOnly);
        var context = Context(disks, "w-k3m9x2pq7a");

        await hook.PrepareAsync(context, default);

        var meta = await IsoinfoAsync("-R", "-i", context.SeedImagePath!, "-x", "/meta-data");
        Assert.Equal("instance-id: \"w-k3m9x2pq7a\"\nlocal-hostname: \"w-k3m9x2pq7a\"\n", meta);
    }

    [Fact(Timeout = 60_000)]
    public async Task SeedHook_BeforeTheDiskHook_Refused()
    {
        var (hook, disks) = Hook();
        var context = Context(disks);
        context.RootDiskPath = null;

        await Assert.ThrowsAsync<InvalidOperationException>(() => hook.PrepareAsync(context, default));
    }

    [Fact(Timeout = 60_000)]
    public async Task SeedHook_CleanupTwiceOrWithoutPrepare_IsFine()
    {
        var (hook, disks) = Hook();
        var context = Context(disks);
        await hook.PrepareAsync(context, default);
        await File.WriteAllTextAsync(context.SeedImagePath + ".partial", "left by a crash");

        await hook.CleanupAsync("w-1", default);
        await hook.CleanupAsync("w-1", default);
        await hook.CleanupAsync("never-made", default);

        Assert.Empty(Directory.EnumerateFileSystemEntries(disks.WorkspaceDirectory("w-1")));
    }
}
