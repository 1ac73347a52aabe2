using NodeAgent.Agent.Partitions;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Partitions;

/// <summary>Project partitions on cgroupfs-shaped directories: v1 (controllers apart), hybrid (v1 + cgroup2 without controllers) and pure v2.</summary>
public sealed class CgroupPartitionsTreeTests : IDisposable
{
    private static readonly string Alice = ProjectPartitions.PartitionFor("alice");
    private readonly TempDirectory _dir = new();

    private string Root => _dir.Path;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Hierarchies_Hybrid_ListsEveryMountWithCgroupProcsAndTheCgroup2MountLast()
    {
        CgroupTree.Hybrid(Root);
        Directory.CreateDirectory(Path.Combine(Root, "not-a-mount"));
        Directory.CreateSymbolicLink(Path.Combine(Root, "cpu,cpuacct"), Path.Combine(Root, "cpu"));

        var layout = new CgroupPartitions(Root).Layout();

        Assert.Equal(CgroupTree.V1Controllers.Select(c => Path.Combine(Root, c)), layout.V1Directories);
        Assert.Equal(Path.Combine(Root, "unified"), layout.V2Directory);
        Assert.False(layout.IsPureV2);
        Assert.Equal([.. layout.V1Directories, Path.Combine(Root, "unified")], new CgroupPartitions(Root).Hierarchies());
    }

    [Fact]
    public void Hierarchies_RootWithCgroupControllers_IsPureV2()
    {
        CgroupTree.V2(Root);

        var layout = new CgroupPartitions(Root).Layout();

        Assert.True(layout.IsPureV2);
        Assert.Empty(layout.V1Directories);
        Assert.Equal([Root], new CgroupPartitions(Root).Hierarchies());
    }

    [Fact]
    public void Ensure_V1_MakesThePartitionEverywhereCopiesTheCpusetAndWritesCpuShares()
    {
        CgroupTree.V1(Root);
        var partitions = new CgroupPartitions(Root);

        partitions.Ensure(Alice, 2048);

        foreach (var controller in CgroupTree.V1Controllers)
        {
            Assert.True(Directory.Exists(Path.Combine(Root, controller, "machine", "project-alice.partition")), controller);
        }

        Assert.Equal("0-1", CgroupTree.Read(Root, "cpuset/machine/cpuset.cpus"));
        Assert.Equal("0", CgroupTree.Read(Root, "cpuset/machine/cpuset.mems"));
        Assert.Equal("0-1", CgroupTree.Read(Root, "cpuset/machine/project-alice.partition/cpuset.cpus"));
        Assert.Equal("0", CgroupTree.Read(Root, "cpuset/machine/project-alice.partition/cpuset.mems"));
        Assert.Equal("2048", CgroupTree.Read(Root, "cpu/machine/project-alice.partition/cpu.shares"));
        Assert.False(File.Exists(Path.Combine(Root, "cpu/machine/cpu.shares")), "machine's own weight is libvirt's");
        Assert.False(File.Exists(Path.Combine(Root, "cpuacct/machine/project-alice.partition/cpu.shares")));
        Assert.Empty(Directory.GetFiles(Path.Combine(Root, "memory/machine/project-alice.partition")));
        Assert.Equal(new PartitionWeight(2048, null), partitions.ReadWeight(Alice));
    }

    [Fact]
    public void Ensure_V1CpusetAlreadySet_KeepsIt()
    {
        CgroupTree.V1(Root);
        CgroupTree.Write(Root, "cpuset/machine/project-alice.partition/cpuset.cpus", "1\n");

        new CgroupPartitions(Root).Ensure(Alice, 1024);

        Assert.Equal("1\n", CgroupTree.Read(Root, "cpuset/machine/project-alice.partition/cpuset.cpus"));
        Assert.Equal("0", CgroupTree.Read(Root, "cpuset/machine/project-alice.partition/cpuset.mems"));
    }

    [Fact]
    public void Ensure_Hybrid_MakesTheCgroup2DirectoriesWithoutEnablingAnything()
    {
        CgroupTree.Hybrid(Root);
        var partitions = new CgroupPartitions(Root);

        partitions.Ensure(Alice, 1024);

        Assert.True(Directory.Exists(Path.Combine(Root, "unified/machine/project-alice.partition")));
        Assert.Equal("\n", CgroupTree.Read(Root, "unified/cgroup.subtree_control"));
        Assert.False(File.Exists(Path.Combine(Root, "unified/machine/project-alice.partition/cpu.weight")));
        Assert.Equal("1024", CgroupTree.Read(Root, "cpu/machine/project-alice.partition/cpu.shares"));
        Assert.Equal(new PartitionWeight(1024, null), partitions.ReadWeight(Alice));
    }

    [Theory]
    [InlineData(2u, "1")]
    [InlineData(1024u, "39")]
    [InlineData(2048u, "79")]
    [InlineData(262144u, "10000")]
    public void Ensure_PureV2_EnablesCpuInRootAndMachineAndWritesTheConvertedWeight(uint shares, string weight)
    {
        CgroupTree.V2(Root);
        var partitions = new CgroupPartitions(Root);

        partitions.Ensure(Alice, shares);

        Assert.Equal("+cpu", CgroupTree.Read(Root, "cgroup.subtree_control"));
        Assert.Equal("+cpu", CgroupTree.Read(Root, "machine/cgroup.subtree_control"));
        Assert.Equal(weight, CgroupTree.Read(Root, "machine/project-alice.partition/cpu.weight"));
        Assert.False(File.Exists(Path.Combine(Root, "machine/project-alice.partition/cpuset.cpus")), "v2 cpusets inherit");
        Assert.Equal(new PartitionWeight(null, uint.Parse(weight, System.Globalization.CultureInfo.InvariantCulture)), partitions.ReadWeight(Alice));
    }

    [Fact]
    public void Ensure_V1SecondTime_WritesNothing()
    {
        CgroupTree.Hybrid(Root);
        var partitions = new CgroupPartitions(Root);
        partitions.Ensure(Alice, 2048);
        var aged = CgroupTree.Age(Root);

        partitions.Ensure(Alice, 2048);

        Assert.Empty(CgroupTree.ChangedSince(Root, aged));
    }

    [Fact]
    public void Ensure_PureV2SecondTime_WritesNothing()
    {
        CgroupTree.V2(Root);
        var partitions = new CgroupPartitions(Root);
        partitions.Ensure(Alice, 1024);

        // What the kernel shows after "+cpu": the enabled controllers, without the '+'.
        CgroupTree.Write(Root, "cgroup.subtree_control", "cpu memory pids\n");
        CgroupTree.Write(Root, "machine/cgroup.subtree_control", "cpu\n");
        var aged = CgroupTree.Age(Root);

        partitions.Ensure(Alice, 1024);

        Assert.Empty(CgroupTree.ChangedSince(Root, aged));
    }

    [Fact]
    public void Ensure_NewShares_RewritesOnlyTheWeight()
    {
        CgroupTree.V1(Root);
        var partitions = new CgroupPartitions(Root);
        partitions.Ensure(Alice, 1024);
        var aged = CgroupTree.Age(Root);

        partitions.Ensure(Alice, 4096);

        Assert.Equal([Path.Combine(Root, "cpu/machine/project-alice.partition/cpu.shares")], CgroupTree.ChangedSince(Root, aged));
        Assert.Equal(new PartitionWeight(4096, null), partitions.ReadWeight(Alice));
    }

    [Fact]
    public void Ensure_HostileProjectNames_EachGetOneDirectoryInsideMachine()
    {
        CgroupTree.V1(Root);
        var partitions = new CgroupPartitions(Root);
        string[] projects = ["../", "..", "cpu", "cgroup.procs", "tasks", "\0", new string('z', 200), "a/../../b", ""];

        foreach (var project in projects)
        {
            partitions.Ensure(ProjectPartitions.PartitionFor(project), 1024);
        }

        var made = Directory.GetDirectories(Path.Combine(Root, "cpu", "machine"));
        Assert.Equal(projects.Length, made.Length);
        Assert.All(made, d => Assert.Matches(@"/cpu/machine/project-[a-z0-9_-]+\.partition$", d));
        Assert.Equal(["machine"], Directory.GetDirectories(Path.Combine(Root, "cpu")).Select(Path.GetFileName));
        Assert.Equal(CgroupTree.V1Controllers, Directory.GetDirectories(Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Ensure_InjectedParent_UsesItInsteadOfMachine()
    {
        CgroupTree.V1(Root);

        new CgroupPartitions(Root, "nodeagent-test-1").Ensure(Alice, 1024);

        Assert.True(Directory.Exists(Path.Combine(Root, "cpu/nodeagent-test-1/project-alice.partition")));
        Assert.False(Directory.Exists(Path.Combine(Root, "cpu/machine")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    public void Constructor_ParentNotOneDirectoryName_IsRejected(string parent)
    {
        Assert.ThrowsAny<ArgumentException>(() => new CgroupPartitions(Root, parent));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(262145u)]
    public void Ensure_SharesOutsideTheKernelsRange_IsRejectedBeforeAnyWrite(uint shares)
    {
        CgroupTree.V1(Root);

        Assert.Throws<ArgumentOutOfRangeException>(() => new CgroupPartitions(Root).Ensure(Alice, shares));

        Assert.False(Directory.Exists(Path.Combine(Root, "cpu/machine")));
    }

    [Fact]
    public void Ensure_NoCpuControllerAnywhere_FailsSayingHowToGetOne()
    {
        CgroupTree.V2(Root, rootControllers: "memory pids");

        var e = Assert.Throws<CgroupPartitionException>(() => new CgroupPartitions(Root).Ensure(Alice, 1024));

        Assert.Equal(Root, e.Path);
        Assert.Contains("no cgroup hierarchy under " + Root + " has the cpu controller", e.Message, StringComparison.Ordinal);
        Assert.Contains("/machine/project-alice", e.Message, StringComparison.Ordinal);
        Assert.Contains("mount -t cgroup -o cpu", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ensure_NoHierarchyMounted_FailsSayingWhatToMount()
    {
        var e = Assert.Throws<CgroupPartitionException>(() => new CgroupPartitions(Path.Combine(Root, "absent")).Ensure(Alice, 1024));

        Assert.Contains("no cgroup hierarchy is mounted under", e.Message, StringComparison.Ordinal);
        Assert.Contains("mount -t cgroup2", e.Message, StringComparison.Ordinal);
    }
}
