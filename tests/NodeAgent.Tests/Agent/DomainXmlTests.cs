using System.Xml.Linq;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;

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

    private static DomainSpec Networked() => Spec() with
    {
        SeedImagePath = "/var/lib/nodeagent/workspaces/w-abc/seed.iso",
        Nics = [new DomainNic("52:54:00:12:34:56", "nabr-lab"), new DomainNic("52:54:00:12:34:57", "nabr-storage")],
    };

    [Fact]
    public void Write_SeedImage_ReadOnlySataCdrom()
    {
        var devices = XDocument.Parse(DomainXml.Write(Networked())).Root!.Element("devices")!;

        var cdrom = Assert.Single(devices.Elements("disk"), d => d.Attribute("device")!.Value == "cdrom");
        Assert.Equal("file", cdrom.Attribute("type")!.Value);
        Assert.Equal("raw", cdrom.Element("driver")!.Attribute("type")!.Value);
        Assert.Equal("/var/lib/nodeagent/workspaces/w-abc/seed.iso", cdrom.Element("source")!.Attribute("file")!.Value);
        Assert.Equal("sata", cdrom.Element("target")!.Attribute("bus")!.Value);
        Assert.NotNull(cdrom.Element("readonly"));
    }

    [Fact]
    public void Write_Nics_BridgeInterfacesInOrderWithTheirTapNames()
    {
        var devices = XDocument.Parse(DomainXml.Write(Networked())).Root!.Element("devices")!;

        var nics = devices.Elements("interface").ToList();
        Assert.Equal(2, nics.Count);
        Assert.All(nics, n => Assert.Equal("bridge", n.Attribute("type")!.Value));
        Assert.All(nics, n => Assert.Equal("virtio", n.Element("model")!.Attribute("type")!.Value));
        Assert.Equal(["52:54:00:12:34:56", "52:54:00:12:34:57"], nics.Select(n => n.Element("mac")!.Attribute("address")!.Value));
        Assert.Equal(["nabr-lab", "nabr-storage"], nics.Select(n => n.Element("source")!.Attribute("bridge")!.Value));
        Assert.Equal([TapNames.For("w-abc", 0), TapNames.For("w-abc", 1)], nics.Select(n => n.Element("target")!.Attribute("dev")!.Value));
    }

    [Fact]
    public void Write_NoSeedNoNics_NeitherCdromNorInterface()
    {
        var devices = XDocument.Parse(DomainXml.Write(Spec())).Root!.Element("devices")!;

        Assert.DoesNotContain(devices.Elements("disk"), d => d.Attribute("device")!.Value == "cdrom");
        Assert.Empty(devices.Elements("interface"));
    }

    [Theory]
    [InlineData("52:54:00:12:34:56'/><source bridge='virbr0", "nabr0", "NIC 0: MAC")]
    [InlineData("52:54:00:AB:CD:EF", "nabr0", "NIC 0: MAC")]
    [InlineData("01:00:5e:00:00:01", "nabr0", "multicast")]
    [InlineData("52:54:00:12:34:56", "nabr0'/><target dev='eth0", "NIC 0: bridge")]
    [InlineData("52:54:00:12:34:56", "a-bridge-name-too-long", "NIC 0: bridge")]
    [InlineData("52:54:00:12:34:56", "", "NIC 0: bridge")]
    [InlineData("52:54:00:12:34:56", "../../etc", "NIC 0: bridge")]
    public void Write_HostileNic_RefusedNamingTheProblem(string mac, string bridge, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { Nics = [new DomainNic(mac, bridge)] }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_TwoNicsOneMac_Refused()
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { Nics = [new DomainNic("52:54:00:12:34:56", "a"), new DomainNic("52:54:00:12:34:56", "b")] }));

        Assert.Contains("NIC 1: MAC 52:54:00:12:34:56 is already another NIC's", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_MoreNicsThanTapNames_Refused()
    {
        var nics = Enumerable.Range(0, TapNames.MaxNics + 1).Select(i => new DomainNic($"52:54:00:00:00:{i:x2}", "nabr0")).ToList();

        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { Nics = nics }));

        Assert.Contains("17 NICs is more than 16", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("seed.iso")]
    [InlineData("/var/lib/nodeagent/../../etc/shadow")]
    [InlineData("/var/lib/nodeagent/seed\n.iso")]
    public void Write_BadSeedPath_Refused(string path)
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { SeedImagePath = path }));

        Assert.Contains("seed image path", error.Message, StringComparison.Ordinal);
    }

    private static DomainSpec WithDisks(DiskLimits? limits) => Spec() with
    {
        DataDiskPaths = ["/var/lib/nodeagent/workspaces/w-abc/data-0.qcow2", "/var/lib/nodeagent/workspaces/w-abc/data-1.qcow2"],
        DiskLimits = limits,
    };

    private static List<XElement> Disks(DomainSpec spec) =>
        XDocument.Parse(DomainXml.Write(spec)).Root!.Element("devices")!.Elements("disk").Where(d => d.Attribute("device")!.Value == "disk").ToList();

    [Fact]
    public void Write_DataDisks_VirtioQcow2AfterTheRootDiskAsVdbVdc()
    {
        var disks = Disks(WithDisks(null));

        Assert.Equal(["vda", "vdb", "vdc"], disks.Select(d => d.Element("target")!.Attribute("dev")!.Value));
        Assert.Equal(
            ["/var/lib/nodeagent/workspaces/w-abc/root.qcow2", "/var/lib/nodeagent/workspaces/w-abc/data-0.qcow2", "/var/lib/nodeagent/workspaces/w-abc/data-1.qcow2"],
            disks.Select(d => d.Element("source")!.Attribute("file")!.Value));
        Assert.All(disks, d => Assert.Equal("virtio", d.Element("target")!.Attribute("bus")!.Value));
        Assert.All(disks, d => Assert.Equal("qcow2", d.Element("driver")!.Attribute("type")!.Value));
        Assert.All(disks, d => Assert.Equal(disks[0].Element("driver")!.Attribute("cache")?.Value, d.Element("driver")!.Attribute("cache")?.Value));
        Assert.All(disks, d => Assert.Null(d.Element("iotune")));
    }

    [Fact]
    public void Write_BothLimits_EveryDiskHasIotuneWithBoth()
    {
        var disks = Disks(WithDisks(new DiskLimits(500, 10_485_760)));

        Assert.Equal(3, disks.Count);
        Assert.All(disks, d => Assert.Equal("500", d.Element("iotune")!.Element("total_iops_sec")!.Value));
        Assert.All(disks, d => Assert.Equal("10485760", d.Element("iotune")!.Element("total_bytes_sec")!.Value));
        Assert.All(disks, d => Assert.Equal(2, d.Element("iotune")!.Elements().Count()));
    }

    [Theory]
    [InlineData(500, 0, "total_iops_sec", "500")]
    [InlineData(0, 1_000_000_000_000_000, "total_bytes_sec", "1000000000000000")]
    public void Write_OneLimit_IotuneHasOnlyThatOne(long iops, long bytesPerSecond, string element, string value)
    {
        var disks = Disks(WithDisks(new DiskLimits(iops, bytesPerSecond)));

        Assert.All(disks, d => Assert.Equal((element, value), (Assert.Single(d.Element("iotune")!.Elements()).Name.LocalName, d.Element("iotune")!.Value)));
    }

    [Fact]
    public void Write_ZeroLimits_NoIotune() =>
        Assert.All(Disks(WithDisks(DiskLimits.None)), d => Assert.Null(d.Element("iotune")));

    [Fact]
    public void Write_NegativeOrHugeLimits_RefusedNamingBoth()
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(WithDisks(new DiskLimits(-1, WorkspaceStorage.MaxLimit + 1))));

        Assert.Contains("disk limit of -1 IOPS", error.Message, StringComparison.Ordinal);
        Assert.Contains("disk limit of 1000000000000001 bytes per second", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("data-0.qcow2")]
    [InlineData("/var/lib/nodeagent/../../etc/shadow")]
    [InlineData("/var/lib/nodeagent/data'/><disk\n")]
    public void Write_BadDataDiskPath_Refused(string path)
    {
        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { DataDiskPaths = ["/var/lib/nodeagent/workspaces/w-abc/data-0.qcow2", path] }));

        Assert.Contains("data disk 1 path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_MoreDataDisksThanAllowed_Refused()
    {
        var paths = Enumerable.Range(0, WorkspaceStorage.MaxDataDisks + 1).Select(i => $"/var/lib/nodeagent/workspaces/w-abc/data-{i}.qcow2").ToList();

        var error = Assert.Throws<ArgumentException>(() => DomainXml.Write(Spec() with { DataDiskPaths = paths }));

        Assert.Contains("9 data disks is more than 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataDiskTarget_EveryAllowedDisk_DistinctAfterVda()
    {
        var targets = Enumerable.Range(0, WorkspaceStorage.MaxDataDisks).Select(DomainXml.DataDiskTarget).ToList();

        Assert.Equal("vdb", targets[0]);
        Assert.Equal("vdi", targets[^1]);
        Assert.Equal(targets.Count, targets.Distinct().Count());
    }
}

/// <summary>The domain XML with a seed and NICs as libvirt itself parses it: defined on the test driver, read back.</summary>
[Collection(TestDriver.Collection)]
public sealed class DomainXmlOnTestDriverTests
{
    [Fact]
    public void Define_SeedAndNics_LibvirtKeepsCdromAndInterfaces()
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        var name = "nodeagent-w-ctx" + Guid.NewGuid().ToString("N")[..8];
        var id = name["nodeagent-".Length..];
        var spec = new DomainSpec(
            name, libvirt.DomainType, libvirt.Architecture, 1, 256L << 20, $"/var/lib/nodeagent/workspaces/{id}/root.qcow2",
            "/var/lib/nodeagent/images/g/vmlinuz", "/var/lib/nodeagent/images/g/initrd.img", "console=ttyS0",
            $"/var/lib/nodeagent/workspaces/{id}/console.log",
            new WorkspaceMetadata(id, "alice", "g", DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
            $"/var/lib/nodeagent/workspaces/{id}/seed.iso",
            [new DomainNic("52:54:00:12:34:56", "nabr0")]);
        try
        {
            libvirt.Define(DomainXml.Write(spec));

            var devices = XDocument.Parse(libvirt.GetXml(name)).Root!.Element("devices")!;
            var cdrom = Assert.Single(devices.Elements("disk"), d => d.Attribute("device")?.Value == "cdrom");
            Assert.Equal($"/var/lib/nodeagent/workspaces/{id}/seed.iso", cdrom.Element("source")!.Attribute("file")!.Value);
            Assert.NotNull(cdrom.Element("readonly"));
            var nic = Assert.Single(devices.Elements("interface"));
            Assert.Equal("52:54:00:12:34:56", nic.Element("mac")!.Attribute("address")!.Value);
            Assert.Equal("nabr0", nic.Element("source")!.Attribute("bridge")!.Value);
            Assert.Equal(TapNames.For(id, 0), nic.Element("target")!.Attribute("dev")!.Value);
        }
        finally
        {
            libvirt.Undefine(name);
        }
    }

    [Theory]
    [InlineData(500, 10_485_760)]
    [InlineData(0, 10_485_760)]
    [InlineData(0, 0)]
    public void Define_DataDisksAndLimits_LibvirtKeepsEveryDiskWithItsIotune(long iops, long bytesPerSecond)
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        var name = "nodeagent-w-disk" + Guid.NewGuid().ToString("N")[..8];
        var id = name["nodeagent-".Length..];
        var directory = $"/var/lib/nodeagent/workspaces/{id}";
        var spec = new DomainSpec(
            name, libvirt.DomainType, libvirt.Architecture, 1, 256L << 20, $"{directory}/root.qcow2", null, null, null, $"{directory}/console.log",
            new WorkspaceMetadata(id, "alice", "g", DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
            DataDiskPaths: [$"{directory}/data-0.qcow2", $"{directory}/data-1.qcow2"],
            DiskLimits: new DiskLimits(iops, bytesPerSecond));
        try
        {
            libvirt.Define(DomainXml.Write(spec));

            var disks = XDocument.Parse(libvirt.GetXml(name)).Root!.Element("devices")!.Elements("disk").ToList();
            Assert.Equal(["vda", "vdb", "vdc"], disks.Select(d => d.Element("target")!.Attribute("dev")!.Value));
            Assert.Equal([$"{directory}/root.qcow2", $"{directory}/data-0.qcow2", $"{directory}/data-1.qcow2"], disks.Select(d => d.Element("source")!.Attribute("file")!.Value));
            Assert.All(disks, d => Assert.Equal("qcow2", d.Element("driver")!.Attribute("type")!.Value));
            foreach (var disk in disks)
            {
                var iotune = disk.Element("iotune");
                Assert.Equal(iops == 0 && bytesPerSecond == 0, iotune is null);
                Assert.Equal(iops == 0 ? null : iops.ToString(System.Globalization.CultureInfo.InvariantCulture), iotune?.Element("total_iops_sec")?.Value);
                Assert.Equal(bytesPerSecond == 0 ? null : bytesPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture), iotune?.Element("total_bytes_sec")?.Value);
            }
        }
        finally
        {
            libvirt.Undefine(name);
        }
    }
}
