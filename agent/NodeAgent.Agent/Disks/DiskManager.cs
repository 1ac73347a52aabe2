using System.Text.Json;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Agent.Disks;

/// <summary>
/// Workspace root disks: a qcow2 overlay on the cached base image, so creating one costs the same whatever
/// the base's size, grown to the requested size. Each workspace has its own directory for its files.
/// </summary>
public sealed class DiskManager(string workspacesDirectory, CommandRunner runner)
{
    private static readonly TimeSpan QemuImgTimeout = TimeSpan.FromMinutes(2);

    public string WorkspaceDirectory(string workspaceId) => Path.Combine(workspacesDirectory, workspaceId);

    public string RootDiskPath(string workspaceId) => Path.Combine(WorkspaceDirectory(workspaceId), "root.qcow2");

    public string ConsoleLogPath(string workspaceId) => Path.Combine(WorkspaceDirectory(workspaceId), "console.log");

    /// <summary>Creates the root disk unless it already exists (a repeated prepare is a no-op).</summary>
    public async Task<string> PrepareRootDiskAsync(string workspaceId, BaseImage image, long requestedBytes, CancellationToken cancellationToken)
    {
        var directory = WorkspaceDirectory(workspaceId);
        var disk = RootDiskPath(workspaceId);
        if (File.Exists(disk))
        {
            return disk;
        }

        Directory.CreateDirectory(directory);
        if (OperatingSystem.IsLinux())
        {
            // QEMU runs as its own user and must reach the disk whatever the agent's umask is.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var baseSize = await VirtualSizeAsync(image.DiskPath, cancellationToken);
        if (requestedBytes != 0 && requestedBytes < baseSize)
        {
            throw new DiskException($"workspace {workspaceId} asks for a {requestedBytes}-byte disk, smaller than image {image.Name} ({baseSize} bytes); ask for at least the image's size, or 0 for exactly that");
        }

        // Built under a temporary name and renamed, so a crash never leaves a half-made disk that looks ready.
        var temporary = disk + ".partial";
        List<string> arguments = ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.DiskPath, temporary];
        if (requestedBytes > baseSize)
        {
            arguments.Add(requestedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        try
        {
            await runner.RunCheckedAsync("qemu-img", arguments, QemuImgTimeout, cancellationToken);
            File.Move(temporary, disk);
        }
        catch (CommandException e)
        {
            File.Delete(temporary);
            throw new DiskException($"creating the root disk of workspace {workspaceId} failed: {e.Message}", e);
        }

        return disk;
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

    private async Task<long> VirtualSizeAsync(string image, CancellationToken cancellationToken)
    {
        var json = await runner.RunCheckedAsync("qemu-img", ["info", "--output=json", "-U", image], QemuImgTimeout, cancellationToken);
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("virtual-size").GetInt64();
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
