namespace NodeAgent.Tests.Partitions;

/// <summary>
/// Directories laid out as cgroupfs shows them, for the layouts this machine's kernel cannot mount here (pure v2 with
/// controllers) and for checking every write. Unlike cgroupfs, a new directory starts empty; the code under test
/// treats a missing file as an empty one, as it would find it in a fresh cgroup.
/// </summary>
internal static class CgroupTree
{
    public static readonly string[] V1Controllers = ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd"];

    /// <summary>Each v1 controller mounted on its own directory, as on this machine: cpu and cpuacct apart, cpuset with CPUs 0-1.</summary>
    public static void V1(string root)
    {
        foreach (var controller in V1Controllers)
        {
            Write(root, $"{controller}/cgroup.procs", "1\n");
        }

        Write(root, "cpu/cpu.shares", "1024\n");
        Write(root, "cpuacct/cpuacct.usage", "123456789\n");
        Write(root, "cpuset/cpuset.cpus", "0-1\n");
        Write(root, "cpuset/cpuset.mems", "0\n");
    }

    /// <summary>v1 plus a cgroup2 mount at unified without the cpu controller (this machine: only hugetlb there).</summary>
    public static void Hybrid(string root)
    {
        V1(root);
        Write(root, "unified/cgroup.procs", "1\n");
        Write(root, "unified/cgroup.controllers", "hugetlb\n");
        Write(root, "unified/cgroup.subtree_control", "\n");
    }

    /// <summary>
    /// One cgroup2 hierarchy at the root, cpu available but not yet enabled for the root's children. machine/ is there
    /// with cpu among its controllers: the kernel lists it there as soon as the root enables it, which a plain file
    /// cannot follow, so it is written up front.
    /// </summary>
    public static void V2(string root, string rootControllers = "cpuset cpu io memory pids")
    {
        Write(root, "cgroup.procs", "1\n");
        Write(root, "cgroup.controllers", rootControllers + "\n");
        Write(root, "cgroup.subtree_control", "memory pids\n");
        Write(root, "machine/cgroup.procs", string.Empty);
        Write(root, "machine/cgroup.controllers", rootControllers.Split(' ').Contains("cpu") ? "cpu memory pids\n" : "memory pids\n");
        Write(root, "machine/cgroup.subtree_control", "\n");
    }

    public static void Write(string root, string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public static string Read(string root, string relative) => File.ReadAllText(Path.Combine(root, relative));

    /// <summary>Sets every file's and directory's modification time to 2000-01-01, so any later write or new entry shows.</summary>
    public static DateTime Age(string root)
    {
        var old = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            File.SetLastWriteTimeUtc(entry, old);
        }

        return old;
    }

    /// <summary>Every entry under the root whose modification time is not <paramref name="time"/>.</summary>
    public static string[] ChangedSince(string root, DateTime time) =>
        [.. Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root)
            .Where(e => File.GetLastWriteTimeUtc(e) != time)];
}
