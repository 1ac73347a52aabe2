using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using NodeAgent.Agent.Partitions;

namespace NodeAgent.Tests.Partitions;

/// <summary>A project's partition name: readable for plain names, a hash for everything else, never a path or a clash.</summary>
public sealed partial class ProjectPartitionsTests
{
    private static readonly string[] Hostile =
    [
        "../", "..", ".", "/", "a/b", "../../etc", "cgroup.procs", "cpu.shares", "\0", "a\0b", "alice\n", " alice",
        "Alice", "ALICE", "-a", "_a", "é", "\u202Eevil", new string('a', 33), new string('x', 200), "default", "x0123456789abcdef",
    ];

    public static TheoryData<string> HostileProjects => new(Hostile);

    [Theory]
    [InlineData("alice", "/machine/project-alice")]
    [InlineData("cpu", "/machine/project-cpu")]
    [InlineData("tasks", "/machine/project-tasks")]
    [InlineData("team_7-build", "/machine/project-team_7-build")]
    [InlineData("0", "/machine/project-0")]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345", "/machine/project-abcdefghijklmnopqrstuvwxyz012345")]
    public void PartitionFor_PlainName_IsUsedAsItIs(string project, string expected)
    {
        Assert.Equal(expected, ProjectPartitions.PartitionFor(project));
    }

    [Fact]
    public void PartitionFor_EmptyProject_IsDefault()
    {
        Assert.Equal("/machine/project-default", ProjectPartitions.PartitionFor(string.Empty));
    }

    [Theory]
    [MemberData(nameof(HostileProjects))]
    public void PartitionFor_AnyOtherName_IsXAndTheFirst16HexOfItsSha256(string project)
    {
        var expected = "/machine/project-x" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(project)))[..16];

        Assert.Equal(expected, ProjectPartitions.PartitionFor(project));
    }

    [Fact]
    public void PartitionFor_HostileNames_AreSafeSingleComponentsAndAllDifferent()
    {
        var projects = Hostile.Concat(["", "alice", "cpu"]).ToList();

        var partitions = projects.Select(ProjectPartitions.PartitionFor).ToList();

        Assert.All(partitions, p => Assert.Matches(SafePartition(), p));
        Assert.Equal(partitions.Count, partitions.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void PartitionFor_NameShapedLikeAHashOrDefault_CannotTakeAnotherProjectsPartition()
    {
        var hashed = ProjectPartitions.PartitionFor("Alice Corp");
        var shaped = hashed["/machine/project-".Length..];

        Assert.NotEqual(hashed, ProjectPartitions.PartitionFor(shaped));
        Assert.NotEqual(ProjectPartitions.PartitionFor(string.Empty), ProjectPartitions.PartitionFor("default"));
    }

    [Theory]
    [InlineData("/machine/project-alice", "project-alice.partition")]
    [InlineData("/machine/project-x0123456789abcdef", "project-x0123456789abcdef.partition")]
    public void DirectoryName_ProjectPartition_IsLibvirtsDirectory(string partition, string expected)
    {
        Assert.Equal(expected, ProjectPartitions.DirectoryName(partition));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/machine")]
    [InlineData("/machine/")]
    [InlineData("machine/project-alice")]
    [InlineData("/machine/alice")]
    [InlineData("/machine/project-Alice")]
    [InlineData("/machine/project-../x")]
    [InlineData("/machine/project-a/b")]
    [InlineData("/machine/project-a.partition")]
    [InlineData("/machine/project-alice\n")]
    [InlineData("/system/project-alice")]
    public void DirectoryName_NotAProjectPartition_IsRejectedNamingThePartition(string partition)
    {
        var e = Assert.Throws<ArgumentException>(() => ProjectPartitions.DirectoryName(partition));

        Assert.Contains("PartitionFor", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(HostileProjects))]
    public void DirectoryName_OfEveryPartitionFor_IsOneComponent(string project)
    {
        var name = ProjectPartitions.DirectoryName(ProjectPartitions.PartitionFor(project));

        Assert.Equal(name, Path.GetFileName(name));
        Assert.EndsWith(".partition", name, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^/machine/project-[a-z0-9][a-z0-9_-]{0,31}\z")]
    private static partial Regex SafePartition();
}
