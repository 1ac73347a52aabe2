using System.Xml.Linq;
using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Agent;

public sealed class DomainXmlTests
{
    private static DomainSpec Spec(string owner = "alice", string? kernel = "/var/lib/nodeagent/images/g/vmlinuz") => new(
        "nodeagent-w-abc", "qemu", "x86_64", 2, 512L << 20,
        "/var/lib/nodeagent/workspaces/w-abc/root.qcow2", kernel, kernel is null ? null : "/var/lib/nodeagent/images/g/initrd.img",
        kernel is null ? null : "console=ttyS0", "/var/lib/nodeagent/workspaces/w-abc/console.log",
        new WorkspaceMetadata("w-abc", owner, "test-guest", DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Write_KernelBootSpec_DomainHasTypeResourcesDiskSerialAndKernel()
    {
        var domain = XDocument.Parse(DomainXml.Write(Spec())).Root!;

        Assert.Equal("qemu", domain.Attribute("type")!.Value);
        Assert.Equal("nodeagent-w-abc", domain.Element("name")!.Value);
        Assert.Equal("524288", domain.Element("memory")!.Value);
        Assert.Equal("2", domain.Element("vcpu")!.Value);
        Assert.Equal("/var/lib/nodeagent/images/g/vmlinuz", domain.Element("os")!.Element("kernel")!.Value);
        var disk = domain.Element("devices")!.Element("disk")!;
        Assert.Equal("qcow2", disk.Element("driver")!.Attribute("type")!.Value);
        Assert.Equal("vda", disk.Element("target")!.Attribute("dev")!.Value);
        Assert.Equal("/var/lib/nodeagent/workspaces/w-abc/console.log", domain.Element("devices")!.Element("serial")!.Element("source")!.Attribute("path")!.Value);
        Assert.Null(domain.Element("devices")!.Element("interface"));
    }

    [Fact]
    public void Write_DiskBootSpec_BootsFromTheDisk()
    {
        var os = XDocument.Parse(DomainXml.Write(Spec(kernel: null))).Root!.Element("os")!;

        Assert.Null(os.Element("kernel"));
        Assert.Equal("hd", os.Element("boot")!.Attribute("dev")!.Value);
    }

    [Fact]
    public void Metadata_RoundTrips()
    {
        var metadata = WorkspaceMetadata.FromDomainXml(DomainXml.Write(Spec()));

        Assert.Equal(Spec().Metadata, metadata);
    }

    [Fact]
    public void ReadMetadata_ForeignDomain_IsNull() =>
        Assert.Null(WorkspaceMetadata.FromDomainXml("<domain type='kvm'><name>someone-elses</name></domain>"));

    [Fact]
    public void Write_XmlMetacharactersInAValue_StayText()
    {
        var hostile = "</owner></nodeagent:workspace></metadata><devices><disk>&evil;";

        var xml = DomainXml.Write(Spec(owner: hostile));

        var domain = XDocument.Parse(xml).Root!;
        Assert.Single(domain.Elements("devices"));
        Assert.Single(domain.Element("devices")!.Elements("disk"));
        Assert.Equal(hostile, WorkspaceMetadata.FromDomainXml(xml)!.Owner);
    }

    [Theory]
    [InlineData("nodeagent-../../x", "name")]
    [InlineData("Bad Name", "name")]
    public void Write_InvalidName_RefusedNamingTheProblem(string name, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { Name = name }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_RelativeOrTraversingPath_Refused()
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { RootDiskPath = "/var/lib/nodeagent/../../etc/shadow" }));

        Assert.Contains("root disk path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_UnknownDomainType_Refused() =>
        Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { DomainType = "xen" }));
}
