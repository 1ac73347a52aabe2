namespace NodeAgent.Agent.Partitions;

/// <summary>
/// The cgroup hierarchies mounted under a cgroup root, as libvirt sees them: each v1 controller's mount (cpu, cpuacct,
/// cpuset, …, and named ones such as <c>name=systemd</c>), and the cgroup2 mount if there is one. Pure v2: no v1
/// directories, the root itself is the cgroup2 mount. Hybrid: v1 directories plus a cgroup2 mount (usually
/// <c>unified</c>). Pure v1: v1 directories only.
/// </summary>
/// <param name="V1Directories">Each v1 hierarchy's mount directory, sorted.</param>
/// <param name="V2Directory">The cgroup2 mount, or null when there is none.</param>
public sealed record CgroupLayout(IReadOnlyList<string> V1Directories, string? V2Directory)
{
    /// <summary>True when the root is one cgroup2 hierarchy (no v1 controller is mounted).</summary>
    public bool IsPureV2 => V1Directories.Count == 0 && V2Directory is not null;

    /// <summary>Every hierarchy's directory: the v1 ones, then the cgroup2 mount.</summary>
    public IReadOnlyList<string> All => V2Directory is null ? V1Directories : [.. V1Directories, V2Directory];

    /// <summary>
    /// Reads the layout under <paramref name="cgroupRoot"/>. The root holding <c>cgroup.controllers</c> is a cgroup2 mount
    /// (pure v2). Otherwise every subdirectory holding <c>cgroup.procs</c> is a hierarchy, and the one also holding
    /// <c>cgroup.controllers</c> is the cgroup2 mount. Symbolic links are skipped: <c>cpu -&gt; cpu,cpuacct</c> names a
    /// hierarchy already listed under its real directory.
    /// </summary>
    /// <exception cref="CgroupPartitionException">No hierarchy is mounted there.</exception>
    public static CgroupLayout Detect(string cgroupRoot)
    {
        ArgumentNullException.ThrowIfNull(cgroupRoot);
        if (File.Exists(Path.Combine(cgroupRoot, CgroupFiles.Controllers)))
        {
            return new CgroupLayout([], cgroupRoot);
        }

        var v1 = new List<string>();
        string? v2 = null;
        foreach (var directory in Subdirectories(cgroupRoot))
        {
            if (directory.LinkTarget is not null || !File.Exists(Path.Combine(directory.FullName, CgroupFiles.Procs)))
            {
                continue;
            }

            if (File.Exists(Path.Combine(directory.FullName, CgroupFiles.Controllers)))
            {
                v2 ??= directory.FullName;
            }
            else
            {
                v1.Add(directory.FullName);
            }
        }

        if (v1.Count == 0 && v2 is null)
        {
            throw new CgroupPartitionException(cgroupRoot,
                $"no cgroup hierarchy is mounted under {cgroupRoot}: mount cgroup2 there (mount -t cgroup2 none {cgroupRoot}) or each v1 controller in its own directory, or start nodeagent with the cgroup root this host uses");
        }

        v1.Sort(StringComparer.Ordinal);
        return new CgroupLayout(v1, v2);
    }

    private static DirectoryInfo[] Subdirectories(string cgroupRoot)
    {
        try
        {
            return new DirectoryInfo(cgroupRoot).GetDirectories();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CgroupFiles.Failure(cgroupRoot, "list", e);
        }
    }
}
