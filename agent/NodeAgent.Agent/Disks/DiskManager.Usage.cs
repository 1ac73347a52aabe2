namespace NodeAgent.Agent.Disks;

/// <summary>How much disk a workspace has and really uses, read from its files without running any process.</summary>
public sealed partial class DiskManager
{
    private const string DataDiskPrefix = "data-";
    private const string Qcow2Suffix = ".qcow2";

    /// <summary>
    /// The workspace's <see cref="DiskUsage"/>: allocated is the virtual sizes of its root and data disks (read from
    /// their qcow2 headers), used is st_blocks × 512 of everything in its directory, as <c>du</c> counts it — the
    /// overlay holds only what the guest changed, and the shared base is not in the directory.
    /// </summary>
    /// <remarks>
    /// Never throws: a workspace without a directory is <see cref="DiskUsage.None"/>, and a file that vanishes or
    /// cannot be read while it is measured (a workspace being removed) counts as nothing. Metering goes on.
    /// </remarks>
    public DiskUsage Measure(string workspaceId)
    {
        var directory = WorkspaceDirectory(workspaceId);
        if (!Directory.Exists(directory))
        {
            return DiskUsage.None;
        }

        long allocated = 0, used = OccupiedOrZero(directory);
        var pending = new Stack<string>([directory]);
        while (pending.TryPop(out var current))
        {
            foreach (var entry in EntriesOrNone(current))
            {
                used += OccupiedOrZero(entry.FullName);
                if (entry.Attributes.HasFlag(FileAttributes.Directory) && !entry.Attributes.HasFlag(FileAttributes.ReparsePoint))
                {
                    pending.Push(entry.FullName);
                }
                else if (current == directory && IsWorkspaceDisk(entry.Name))
                {
                    allocated += VirtualSizeOrZero(entry.FullName);
                }
            }
        }

        return new DiskUsage(allocated, used);
    }

    /// <summary>root.qcow2 and data-N.qcow2: the disks the guest sees (not their .partial leftovers).</summary>
    private static bool IsWorkspaceDisk(string name) =>
        name == RootDiskFile
        || (name.StartsWith(DataDiskPrefix, StringComparison.Ordinal)
            && name.EndsWith(Qcow2Suffix, StringComparison.Ordinal)
            && name.Length > DataDiskPrefix.Length + Qcow2Suffix.Length
            && name.AsSpan(DataDiskPrefix.Length, name.Length - DataDiskPrefix.Length - Qcow2Suffix.Length).ContainsAnyExceptInRange('0', '9') is false);

    private static List<FileSystemInfo> EntriesOrNone(string directory)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFileSystemInfos().ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static long OccupiedOrZero(string path)
    {
        try
        {
            return HostFileSpace.OccupiedBytes(path) ?? 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long VirtualSizeOrZero(string disk)
    {
        try
        {
            return Qcow2Header.TryReadVirtualSize(disk, out var size) ? size : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
