using System.Globalization;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Agent.Disks;

/// <summary>
/// The source of truth for a workspace's files on this host, one directory per workspace: its root disk (a qcow2
/// overlay on the cached base image, so creating one costs the same whatever the base's size, grown to the
/// requested size), its blank data disks, and what they occupy (<see cref="Measure"/>).
/// </summary>
public sealed partial class DiskManager(string workspacesDirectory, CommandRunner runner)
{
    private const string RootDiskFile = "root.qcow2";
    private const string PartialSuffix = ".partial";
    private static readonly TimeSpan QemuImgTimeout = TimeSpan.FromMinutes(2);

    public string WorkspaceDirectory(string workspaceId) => Path.Combine(workspacesDirectory, workspaceId);

    public string RootDiskPath(string workspaceId) => Path.Combine(WorkspaceDirectory(workspaceId), RootDiskFile);

    /// <summary>The workspace's data disk number <paramref name="index"/> (0 is the guest's vdb).</summary>
    public string DataDiskPath(string workspaceId, int index) =>
        Path.Combine(WorkspaceDirectory(workspaceId), string.Create(CultureInfo.InvariantCulture, $"data-{index}.qcow2"));

    public string ConsoleLogPath(string workspaceId) => Path.Combine(WorkspaceDirectory(workspaceId), "console.log");

    /// <summary>
    /// Creates the root disk unless it already exists (a repeated prepare is a no-op): a qcow2 overlay whose backing
    /// format is the base's declared one (<see cref="BaseImage.Format"/>), never probed — a raw base whose guest
    /// wrote a qcow2 header into it must stay raw. <paramref name="requestedBytes"/> 0 means the base's size.
    /// </summary>
    public async Task<string> PrepareRootDiskAsync(string workspaceId, BaseImage image, long requestedBytes, CancellationToken cancellationToken)
    {
        var disk = RootDiskPath(workspaceId);
        if (File.Exists(disk))
        {
            return disk;
        }

        var backingFormat = image.Format switch
        {
            ImageFormat.Qcow2 => "qcow2",
            ImageFormat.Raw => "raw",
            _ => throw new DiskException($"image {image.Name} is a {image.Format.ToString().ToLowerInvariant()}, not a disk image; workspace {workspaceId} needs a qcow2 or raw image to boot from"),
        };
        var baseSize = BaseVirtualSize(workspaceId, image);
        if (requestedBytes != 0 && requestedBytes < baseSize)
        {
            throw new DiskException($"workspace {workspaceId} asks for a {requestedBytes}-byte disk, smaller than image {image.Name} ({baseSize} bytes); ask for at least the image's size, or 0 for exactly that");
        }

        EnsureWorkspaceDirectory(workspaceId);
        await CreateAsync(workspaceId, "root disk", disk, ["create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", image.DiskPath], requestedBytes > baseSize ? requestedBytes : null, cancellationToken);
        return disk;
    }

    /// <summary>
    /// Creates the blank qcow2 data disks of <paramref name="sizes"/> (bytes each) that do not exist yet, in order,
    /// and returns all their paths (vdb, vdc, …). A repeated prepare is a no-op; a prepare cut short leaves only
    /// <c>.partial</c> files, which the next one replaces.
    /// </summary>
    public async Task<IReadOnlyList<string>> PrepareDataDisksAsync(string workspaceId, IReadOnlyList<long> sizes, CancellationToken cancellationToken)
    {
        var problems = sizes.Select((size, i) => (size, i)).Where(d => d.size <= 0).Select(d => $"data disk {d.i} has {d.size} bytes").ToList();
        if (problems.Count > 0)
        {
            throw new DiskException($"cannot create the data disks of workspace {workspaceId}: {string.Join("; ", problems)}; each needs a positive size");
        }

        var paths = new List<string>(sizes.Count);
        for (var i = 0; i < sizes.Count; i++)
        {
            var disk = DataDiskPath(workspaceId, i);
            paths.Add(disk);
            if (!File.Exists(disk))
            {
                EnsureWorkspaceDirectory(workspaceId);
                await CreateAsync(workspaceId, $"data disk {i}", disk, ["create", "-q", "-f", "qcow2"], sizes[i], cancellationToken);
            }
        }

        return paths;
    }

    /// <summary>Removes everything of the workspace on disk; nothing to remove is fine.</summary>
    public void Remove(string workspaceId)
    {
        var directory = WorkspaceDirectory(workspaceId);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public bool Exists(string workspaceId) => Directory.Exists(WorkspaceDirectory(workspaceId));

    /// <summary>The workspaces that have a directory here, whether or not libvirt has their domain.</summary>
    public IReadOnlyList<string> List() => Directory.Exists(workspacesDirectory)
        ? Directory.EnumerateDirectories(workspacesDirectory).Select(Path.GetFileName).OfType<string>().ToList()
        : [];

    /// <summary>Records that the workspace's domain was defined: from then on, its files without a domain mean the domain was lost.</summary>
    public void MarkDefined(string workspaceId) => File.WriteAllBytes(DefinedMarkPath(workspaceId), []);

    public bool WasDefined(string workspaceId) => File.Exists(DefinedMarkPath(workspaceId));

    private string DefinedMarkPath(string workspaceId) => Path.Combine(WorkspaceDirectory(workspaceId), "defined");

    private void EnsureWorkspaceDirectory(string workspaceId)
    {
        var directory = WorkspaceDirectory(workspaceId);
        Directory.CreateDirectory(directory);
        if (OperatingSystem.IsLinux())
        {
            // QEMU runs as its own user and must reach the disks whatever the agent's umask is.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>
    /// The base's size as the guest sees it, read from the file itself (a qcow2 header, or a raw file's length):
    /// the same few bytes whatever the base's size, and no process.
    /// </summary>
    private static long BaseVirtualSize(string workspaceId, BaseImage image)
    {
        try
        {
            if (image.Format == ImageFormat.Raw)
            {
                return new FileInfo(image.DiskPath).Length;
            }

            return Qcow2Header.TryReadVirtualSize(image.DiskPath, out var size)
                ? size
                : throw new DiskException($"image {image.Name} is listed as qcow2 but {image.DiskPath} has no qcow2 header; remove it from the image cache so it is fetched again, or correct the image's format in the catalogue");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskException($"cannot read image {image.Name} ({image.DiskPath}) for workspace {workspaceId}: {e.Message}; fetch the image again", e);
        }
    }

    /// <summary>
    /// Runs <c>qemu-img</c> with <paramref name="arguments"/> to make <paramref name="disk"/> under a temporary name,
    /// then renames it, so a crash never leaves a half-made disk that looks ready. qemu-img flushes the file to
    /// stable storage (fdatasync) before it exits, so a renamed disk is whole even after a power loss.
    /// </summary>
    private async Task CreateAsync(string workspaceId, string what, string disk, List<string> arguments, long? sizeBytes, CancellationToken cancellationToken)
    {
        var temporary = disk + PartialSuffix;
        // A leftover of a crashed attempt: made again from nothing rather than trusted.
        File.Delete(temporary);
        arguments.Add(temporary);
        if (sizeBytes is { } size)
        {
            arguments.Add(size.ToString(CultureInfo.InvariantCulture));
        }

        try
        {
            await runner.RunCheckedAsync("qemu-img", arguments, QemuImgTimeout, cancellationToken);
            File.Move(temporary, disk);
        }
        catch (CommandException e)
        {
            File.Delete(temporary);
            throw new DiskException($"creating the {what} of workspace {workspaceId} failed: {e.Message}", e);
        }
    }
}

/// <summary>Preparing or removing a workspace disk failed; the message names the workspace and the fix.</summary>
public sealed class DiskException : Exception
{
    public DiskException(string message)
        : base(message)
    {
    }

    public DiskException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DiskException()
    {
    }
}
