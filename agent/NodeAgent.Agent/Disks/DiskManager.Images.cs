namespace NodeAgent.Agent.Disks;

/// <summary>Which cached images each workspace's files depend on, so the image cache never evicts one of them.</summary>
public sealed partial class DiskManager
{
    private const string ImagesFile = "images";

    /// <summary>
    /// Records the digests of the images the workspace's disks and domain use (base disk, kernel, initrd), creating
    /// its directory. Written before the overlay that refers to them, and replaced whole, so it never lists less
    /// than the files depend on.
    /// </summary>
    public void RecordImages(string workspaceId, IEnumerable<string> digests)
    {
        var directory = WorkspaceDirectory(workspaceId);
        Directory.CreateDirectory(directory);
        if (OperatingSystem.IsLinux())
        {
            // QEMU runs as its own user and must reach the disk whatever the agent's umask is.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        var path = Path.Combine(directory, ImagesFile);
        File.WriteAllLines(path + ".partial", digests);
        File.Move(path + ".partial", path, overwrite: true);
    }

    /// <summary>Every digest some workspace on this host records; a workspace whose record cannot be read holds nothing back.</summary>
    public IReadOnlySet<string> DigestsInUse()
    {
        var digests = new HashSet<string>(StringComparer.Ordinal);
        foreach (var workspace in List())
        {
            try
            {
                digests.UnionWith(File.ReadAllLines(Path.Combine(WorkspaceDirectory(workspace), ImagesFile)).Where(l => l.Length > 0));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No record yet (being created or removed): it holds no image of its own.
            }
        }

        return digests;
    }
}
