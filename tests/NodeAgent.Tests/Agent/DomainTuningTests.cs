using System.Xml.Linq;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>A workspace's CPU weight and cap, hard memory limit and NIC bandwidth in its domain XML, and as libvirt itself parses them.</summary>
[Collection(TestDriver.Collection)]
public sealed class DomainTuningTests
{
    private static DomainSpec Spec(string name, ResourceLimits? limits) => new(
        name, "test", "x86_64", 2, 512L << 20, $"/var/lib/nodeagent/workspaces/{name}/root.qcow2", null, null, null, $"/var/lib/nodeagent/workspaces/{name}/console.log",
        new WorkspaceMetadata(name["nodeagent-".Length..], "alice", "g", DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
        Nics: [new DomainNic("52:54:00:12:34:56", "nabr0"), new DomainNic("52:54:00:12:34:57", "nabr1")],
        Limits: limits);

    [Fact]
    public void Write_NoLimits_NoTuningElements()
    {
        var root = XDocument.Parse(DomainXml.Write(Spec("nodeagent-w-plain", null))).Root!;

        Assert.Null(root.Element("cputune"));
        Assert.Null(root.Element("memtune"));
        Assert.All(root.Element("devices")!.Elements("interface"), nic => Assert.Null(nic.Element("bandwidth")));
    }

    [Fact]
    public void Define_EveryLimit_LibvirtKeepsSharesQuotaHardLimitAndBandwidthOnEachNic()
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        var name = "nodeagent-w-tune" + Guid.NewGuid().ToString("N")[..8];
        var limits = new ResourceLimits(512, 50, 768L << 20, 10L << 20, 512 * 1024);
        try
        {
            libvirt.Define(DomainXml.Write(Spec(name, limits)));

            var root = XDocument.Parse(libvirt.GetXml(name)).Root!;
            var cputune = root.Element("cputune")!;
            Assert.Equal(("512", "100000", "50000"), (cputune.Element("shares")!.Value, cputune.Element("period")!.Value, cputune.Element("quota")!.Value));
            Assert.Equal(((768L << 20) / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), root.Element("memtune")!.Element("hard_limit")!.Value);
            var nics = root.Element("devices")!.Elements("interface").ToList();
            Assert.Equal(2, nics.Count);
            Assert.All(nics, nic => Assert.Equal("10240", nic.Element("bandwidth")!.Element("inbound")!.Attribute("average")!.Value));
            Assert.All(nics, nic => Assert.Equal("512", nic.Element("bandwidth")!.Element("outbound")!.Attribute("average")!.Value));
        }
        finally
        {
            libvirt.Undefine(name);
        }
    }

    [Fact]
    public void Write_OnlyACap_QuotaWithoutShares()
    {
        var cputune = XDocument.Parse(DomainXml.Write(Spec("nodeagent-w-cap", new ResourceLimits(0, 25, 0, 0, 0)))).Root!.Element("cputune")!;

        Assert.Null(cputune.Element("shares"));
        Assert.Equal("25000", cputune.Element("quota")!.Value);
    }

    [Fact]
    public void Write_NegativeOrOverACap_Refused()
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec("nodeagent-w-bad", new ResourceLimits(-1, 150, 0, 0, 0))));

        Assert.Contains("negative number or a cap over 100 %", error.Message, StringComparison.Ordinal);
    }
}
