using System.Globalization;

namespace NodeAgent.Agent.Partitions;

/// <summary>
/// Reading, writing and making cgroupfs entries, each failure turned into a <see cref="CgroupPartitionException"/> that
/// names the path and the fix. Writes happen only when the file's content differs, so setting a partition up again
/// is a handful of reads.
/// </summary>
internal static class CgroupFiles
{
    public const string Controllers = "cgroup.controllers";
    public const string SubtreeControl = "cgroup.subtree_control";
    public const string Procs = "cgroup.procs";
    public const string CpuShares = "cpu.shares";
    public const string CpuWeight = "cpu.weight";
    public const string CpusetCpus = "cpuset.cpus";
    public const string CpusetMems = "cpuset.mems";

    // errno values (Linux, every architecture .NET runs on): .NET reports them as the HResult of its IOException.
    private const int ENOENT = 2;
    private const int EBUSY = 16;
    private const int EINVAL = 22;
    private const int ENOSPC = 28;
    private const int EROFS = 30;
    private const int ERANGE = 34;

    private const string NotFound =
        "not found (ENOENT); the hierarchy was unmounted or the controller is not available in this cgroup — compare the mounts (grep cgroup /proc/mounts) and cgroup.controllers";

    /// <summary>The file's content without surrounding white space, or null when it does not exist.</summary>
    public static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(path, "read", e);
        }
    }

    /// <summary>The space-separated words of a file such as cgroup.controllers; none when it does not exist.</summary>
    public static IReadOnlySet<string> Words(string path) =>
        (Read(path) ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    /// <summary>The file as an unsigned number, or null when it does not exist or holds something else.</summary>
    public static uint? ReadNumber(string path) =>
        uint.TryParse(Read(path), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Writes <paramref name="value"/> unless the file already holds it; true when it wrote.</summary>
    public static bool WriteIfDifferent(string path, string value)
    {
        if (Read(path) == value)
        {
            return false;
        }

        Write(path, value);
        return true;
    }

    /// <summary>Writes <paramref name="value"/> in one write, as cgroupfs expects.</summary>
    public static void Write(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(path, $"write '{value}' to", e);
        }
    }

    /// <summary>Makes the directory (a cgroup) unless it exists.</summary>
    public static void MakeDirectory(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(path, "create", e);
        }
    }

    /// <summary>The exception for a failed cgroupfs operation: what failed, on which path, and what the operator can do.</summary>
    public static CgroupPartitionException Failure(string path, string verb, Exception e)
    {
        var errno = e is UnauthorizedAccessException ? 0 : e.HResult;
        var reason = e switch
        {
            UnauthorizedAccessException =>
                "permission denied (EACCES/EPERM); run nodeagent as root, and in a container give it a writable cgroup mount of its own",
            FileNotFoundException or DirectoryNotFoundException =>
                NotFound,
            IOException when errno == ENOENT =>
                NotFound,
            IOException when errno == EROFS =>
                "the cgroup filesystem is read-only (EROFS); remount it read-write (mount -o remount,rw on that cgroup mount) — containers often mount /sys/fs/cgroup read-only — or run nodeagent where it is writable",
            IOException when errno == ENOSPC =>
                "no space (ENOSPC); in a v1 cpuset hierarchy the cgroup has no CPUs or memory nodes: set cpuset.cpus and cpuset.mems of its parent; in cgroup v2 cgroup.max.descendants or cgroup.max.depth was reached: raise it",
            IOException when errno == EBUSY =>
                "busy (EBUSY); processes sit directly in this cgroup and cgroup v2 only lets a cgroup without processes enable controllers for its children: move them into a child cgroup",
            IOException when errno is EINVAL or ERANGE =>
                "the kernel rejected the value (EINVAL/ERANGE); check it is within the file's range",
            _ => $"{e.Message}; check the path and the kernel log (dmesg)",
        };
        return new CgroupPartitionException(path, $"cannot {verb} {path}: {reason}", e);
    }
}
