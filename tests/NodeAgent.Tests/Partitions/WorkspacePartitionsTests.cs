using System.Xml.Linq;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Partitions;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Partitions;

/// <summary>Where a workspace's domain goes: its project's partition in the domain XML, and when the agent turns partitions on.</summary>
[Collection(NodeAgent.Tests.Agent.TestDriver.Collection)]
public sealed class WorkspacePartitionsTests
{
    private static readonly CgroupLayout Hybrid = new(["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct"], "/sys/fs/cgroup/unified");

    private static DomainSpec Spec(string name, string? partition) => new(
        name, "test", "x86_64", 1, 256L << 20, $"/var/lib/nodeagent/workspaces/{name}/root.qcow2", null, null, null, $"/var/lib/nodeagent/workspaces/{name}/console.log",
        new WorkspaceMetadata(name["nodeagent-".Length..], "alice", "g", DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
        Partition: partition);

    [Fact]
    public void Define_ProjectPartition_LibvirtKeepsItInResource()
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        var name = "nodeagent-w-part" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            libvirt.Define(DomainXml.Write(Spec(name, new ProjectCgroupPartitions(new CgroupPartitions()).PartitionFor("alice"))));

            var root = XDocument.Parse(libvirt.GetXml(name)).Root!;
            Assert.Equal("/machine/project-alice", root.Element("resource")?.Element("partition")?.Value);
        }
        finally
        {
            libvirt.Undefine(name);
        }
    }

    [Fact]
    public void Write_PartitionsOff_NoResourceElement()
    {
        var root = XDocument.Parse(DomainXml.Write(Spec("nodeagent-w-nopart", NoPartitions.Instance.PartitionFor("alice")))).Root!;

        Assert.Null(root.Element("resource"));
    }

    [Theory]
    [InlineData("/machine")]
    [InlineData("/machine/project-alice/../../evil")]
    [InlineData("/machine/project-Alice")]
    [InlineData("/other/project-alice")]
    public void Write_PartitionNotMadeByPartitionFor_IsRefused(string partition)
    {
        var e = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec("nodeagent-w-bad", partition)));

        Assert.Contains("PartitionFor", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(PartitionMode.Auto, "qemu:///system", false, true)]
    [InlineData(PartitionMode.Auto, "qemu:///system", true, false)]
    [InlineData(PartitionMode.Auto, "test:///default", false, false)]
    [InlineData(PartitionMode.Off, "qemu:///system", false, false)]
    [InlineData(PartitionMode.On, "test:///default", true, true)]
    public void Decide_ModeUriAndInit_GiveOnOrOffWithAReason(PartitionMode mode, string uri, bool systemd, bool expected)
    {
        var (on, why) = ProjectCgroupPartitions.Decide(mode, uri, systemd, () => Hybrid);

        Assert.Equal(expected, on);
        Assert.NotEmpty(why);
    }

    [Fact]
    public void Decide_AutoWithoutAnyHierarchy_IsOff()
    {
        var (on, why) = ProjectCgroupPartitions.Decide(PartitionMode.Auto, "qemu:///system", false, () => new CgroupLayout([], null));

        Assert.False(on);
        Assert.Contains("no cgroup hierarchy", why, StringComparison.Ordinal);
    }
}
