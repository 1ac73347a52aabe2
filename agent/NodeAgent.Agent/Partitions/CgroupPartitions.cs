using System.Globalization;
using System.Text.RegularExpressions;

namespace NodeAgent.Agent.Partitions;

/// <summary>
/// Source of truth for project partitions in the cgroup filesystem when libvirt manages cgroups itself (no systemd):
/// makes <c>PARENT/NAME.partition</c> (PARENT is libvirt's <c>machine</c>) in every mounted hierarchy, because libvirt
/// refuses to start a domain in a partition one hierarchy lacks, and removes them all when a start fails. So
/// <see cref="Ensure"/> runs before every start: idempotent, and only reads once everything is in place.
/// <list type="bullet">
/// <item>v1 <c>cpuset</c> hierarchies: an empty <c>cpuset.cpus</c> / <c>cpuset.mems</c> is copied from the parent,
/// since the kernel will not let a process into a cpuset without CPUs and memory nodes.</item>
/// <item>v1 hierarchy with the cpu controller (it has <c>cpu.shares</c>): the partition's <c>cpu.shares</c>.</item>
/// <item>cgroup2: <c>+cpu</c> in <c>cgroup.subtree_control</c> of the root and of PARENT where <c>cpu</c> is available
/// and not yet enabled, then the partition's <c>cpu.weight</c> (<see cref="PartitionWeight.WeightFromShares"/>).
/// On a hybrid host's cgroup2 mount no controller is available: the directories only.</item>
/// </list>
/// The root and the parent are injectable: tests use cgroupfs-shaped directories, or a parent of their own on the real
/// cgroupfs so that they never touch libvirt's <c>machine</c>.
/// </summary>
public sealed partial class CgroupPartitions
{
    /// <summary>Where the kernel's cgroup hierarchies are mounted on every distribution the agent supports.</summary>
    public const string DefaultRoot = "/sys/fs/cgroup";

    /// <summary>libvirt's top-level cgroup for domains: the <c>/machine</c> of <c>/machine/project-NAME</c>.</summary>
    public const string DefaultParent = "machine";

    private const string Cpu = "cpu";

    /// <summary>Partitions under <paramref name="parent"/> in each hierarchy under <paramref name="cgroupRoot"/>.</summary>
    /// <exception cref="ArgumentException">The parent is not a single plain directory name.</exception>
    public CgroupPartitions(string cgroupRoot = DefaultRoot, string parent = DefaultParent)
    {
        ArgumentException.ThrowIfNullOrEmpty(cgroupRoot);
        ArgumentNullException.ThrowIfNull(parent);
        if (!ParentPattern().IsMatch(parent))
        {
            throw new ArgumentException($"the partitions' parent '{parent}' must be one directory name of [a-z0-9_.-] starting with a letter or digit, such as 'machine'", nameof(parent));
        }

        Root = cgroupRoot;
        Parent = parent;
    }

    /// <summary>The directory the hierarchies are mounted under.</summary>
    public string Root { get; }

    /// <summary>The directory, in each hierarchy, that partitions are made in.</summary>
    public string Parent { get; }

    /// <summary>The hierarchies mounted under <see cref="Root"/> now.</summary>
    /// <exception cref="CgroupPartitionException">No hierarchy is mounted there.</exception>
    public CgroupLayout Layout() => CgroupLayout.Detect(Root);

    /// <summary>Every hierarchy's directory: each v1 controller's mount, then the cgroup2 mount.</summary>
    public IReadOnlyList<string> Hierarchies() => Layout().All;

    /// <summary>The partition's directory in every hierarchy, in the order of <see cref="Hierarchies"/> (whether or not they exist).</summary>
    public IReadOnlyList<string> Directories(string partition)
    {
        var name = ProjectPartitions.DirectoryName(partition);
        return [.. Hierarchies().Select(h => Path.Combine(h, Parent, name))];
    }

    /// <summary>
    /// Makes <paramref name="partition"/> (from <see cref="ProjectPartitions.PartitionFor"/>) in every hierarchy with the
    /// CPU weight <paramref name="cpuShares"/>, writing only what differs from what is there.
    /// </summary>
    /// <exception cref="ArgumentException">The partition is not one <see cref="ProjectPartitions.PartitionFor"/> makes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cpuShares"/> is outside 2–262144.</exception>
    /// <exception cref="CgroupPartitionException">A directory or file could not be made or written, or no hierarchy has the cpu controller.</exception>
    public void Ensure(string partition, uint cpuShares)
    {
        var name = ProjectPartitions.DirectoryName(partition);
        var weight = PartitionWeight.WeightFromShares(cpuShares);
        var layout = Layout();
        var weighted = false;
        foreach (var hierarchy in layout.V1Directories)
        {
            weighted |= EnsureV1(hierarchy, name, cpuShares);
        }

        if (layout.V2Directory is { } v2)
        {
            weighted |= EnsureV2(v2, name, weight);
        }

        if (!weighted)
        {
            throw new CgroupPartitionException(Root,
                $"no cgroup hierarchy under {Root} has the cpu controller, so partition {partition} would get no CPU weight: " +
                $"mount the v1 cpu controller (mount -t cgroup -o cpu cgroup {Root}/cpu) or, on cgroup v2, make 'cpu' available in {Root}/{CgroupFiles.Controllers} (boot without cgroup_no_v1 binding it elsewhere)");
        }
    }

    /// <summary>The partition's weight as the kernel holds it now; both null when the partition does not exist.</summary>
    /// <exception cref="ArgumentException">The partition is not one <see cref="ProjectPartitions.PartitionFor"/> makes.</exception>
    /// <exception cref="CgroupPartitionException">No hierarchy is mounted under <see cref="Root"/>, or a weight file cannot be read.</exception>
    public PartitionWeight ReadWeight(string partition)
    {
        var name = ProjectPartitions.DirectoryName(partition);
        var layout = Layout();
        var shares = layout.V1Directories
            .Where(h => File.Exists(Path.Combine(h, CgroupFiles.CpuShares)))
            .Select(h => CgroupFiles.ReadNumber(Path.Combine(h, Parent, name, CgroupFiles.CpuShares)))
            .FirstOrDefault(s => s is not null);
        var weight = layout.V2Directory is { } v2 ? CgroupFiles.ReadNumber(Path.Combine(v2, Parent, name, CgroupFiles.CpuWeight)) : null;
        return new PartitionWeight(shares, weight);
    }

    /// <summary>One v1 hierarchy; true when it carries the weight (it is the cpu controller's).</summary>
    private bool EnsureV1(string hierarchy, string name, uint cpuShares)
    {
        var isCpuset = File.Exists(Path.Combine(hierarchy, CgroupFiles.CpusetCpus));
        var parent = Path.Combine(hierarchy, Parent);
        var partition = Path.Combine(parent, name);
        CgroupFiles.MakeDirectory(parent);
        if (isCpuset)
        {
            InheritCpuset(hierarchy, parent);
        }

        CgroupFiles.MakeDirectory(partition);
        if (isCpuset)
        {
            InheritCpuset(parent, partition);
        }

        if (!File.Exists(Path.Combine(hierarchy, CgroupFiles.CpuShares)))
        {
            return false;
        }

        CgroupFiles.WriteIfDifferent(Path.Combine(partition, CgroupFiles.CpuShares), cpuShares.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>The cgroup2 hierarchy; true when it carries the weight (cpu is available down to the partition).</summary>
    private bool EnsureV2(string hierarchy, string name, uint weight)
    {
        var parent = Path.Combine(hierarchy, Parent);
        var partition = Path.Combine(parent, name);
        var cpuInRoot = EnableCpuForChildren(hierarchy);
        CgroupFiles.MakeDirectory(parent);

        // The kernel lists cpu in PARENT's cgroup.controllers once the root enabled it for its children.
        var cpuInParent = cpuInRoot && EnableCpuForChildren(parent);
        CgroupFiles.MakeDirectory(partition);
        if (!cpuInParent)
        {
            return false;
        }

        CgroupFiles.WriteIfDifferent(Path.Combine(partition, CgroupFiles.CpuWeight), weight.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>Enables cpu for the cgroup's children when it is available there; false when it is not.</summary>
    private static bool EnableCpuForChildren(string cgroup)
    {
        if (!CgroupFiles.Words(Path.Combine(cgroup, CgroupFiles.Controllers)).Contains(Cpu))
        {
            return false;
        }

        var subtree = Path.Combine(cgroup, CgroupFiles.SubtreeControl);
        if (!CgroupFiles.Words(subtree).Contains(Cpu))
        {
            CgroupFiles.Write(subtree, "+" + Cpu);
        }

        return true;
    }

    /// <summary>Copies the parent's CPUs and memory nodes into a v1 cpuset that has none (a new cgroup starts empty).</summary>
    private static void InheritCpuset(string parent, string child)
    {
        foreach (var file in (ReadOnlySpan<string>)[CgroupFiles.CpusetCpus, CgroupFiles.CpusetMems])
        {
            var own = Path.Combine(child, file);
            if (!string.IsNullOrEmpty(CgroupFiles.Read(own)))
            {
                continue;
            }

            if (CgroupFiles.Read(Path.Combine(parent, file)) is { Length: > 0 } inherited)
            {
                CgroupFiles.Write(own, inherited);
            }
        }
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_.-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ParentPattern();
}
