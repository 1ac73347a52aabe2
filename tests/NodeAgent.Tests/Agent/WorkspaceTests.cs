using NodeAgent.Agent.Images;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Agent.Workspaces;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Agent;

public sealed class WorkspaceTests
{
    private static V1.WorkspaceSpec Spec(string id = "w-abc", string image = "test-guest") => new()
    {
        Id = id,
        Owner = "alice",
        Image = new V1.ImageRef { Name = image, Sha256 = new string('0', 64), Url = "https://images.example/" + image },
        Resources = new V1.Resources { Vcpus = 1, MemoryBytes = 256UL << 20 },
        ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch),
    };

    [Fact]
    public void FromWire_ValidSpec_MapsEveryField()
    {
        var workspace = Workspace.FromWire(Spec());

        var image = new ImageSource("test-guest", 0, new string('0', 64), ImageFormat.Qcow2, 0, new Uri("https://images.example/test-guest"));
        Assert.Equal(new Workspace("w-abc", "alice", "test-guest", 1, 256L << 20, 0, DateTimeOffset.UnixEpoch) { ImageSource = new WorkspaceImage(image, null, null, null) }, workspace);
        Assert.Equal("nodeagent-w-abc", workspace.DomainName);
    }

    [Theory]
    [InlineData("../etc", "test-guest", "id")]
    [InlineData("w-abc", "../../../../etc/passwd", "image")]
    [InlineData("w-abc;reboot", "test-guest", "id")]
    public void FromWire_HostileValues_RejectedBeforeAnythingIsBuilt(string id, string image, string field)
    {
        var error = Assert.Throws<FormatException>(() => Workspace.FromWire(Spec(id, image)));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromWire_ImageWithKernelDataDisksLimitsAndSave_MapsThem()
    {
        var spec = Spec();
        spec.Image.Kernel = new V1.ImageRef { Name = "k", Version = 2, Sha256 = new string('1', 64), Url = "file:///srv/images/k", Format = V1.ImageFormat.Kernel };
        spec.Image.KernelCmdline = "console=ttyS0 panic=-1";
        spec.DataDiskBytes.Add([1UL << 30, 64UL << 20]);
        spec.DiskLimits = new V1.DiskLimits { TotalIops = 500 };
        spec.Save = new V1.SaveRequest { Generation = 3, ImageName = "mine", UploadUrl = "http://10.0.0.1:7701/v1/images" };

        var workspace = Workspace.FromWire(spec);

        Assert.Equal("k:2", workspace.ImageSource!.Kernel!.ToString());
        Assert.Equal("console=ttyS0 panic=-1", workspace.ImageSource.KernelCommandLine);
        Assert.Equal([1L << 30, 64L << 20], workspace.Storage.DataDiskBytes);
        Assert.Equal(new DiskLimits(500, 0), workspace.Storage.Limits);
        Assert.Equal(new WorkspaceSave(3, "mine", new Uri("http://10.0.0.1:7701/v1/images")), workspace.Save);
    }

    [Theory]
    [InlineData("sha", "../../etc/passwd", "sha256")]
    [InlineData("url", "file:///srv/../etc/shadow", "'..' path segment")]
    [InlineData("url", "ftp://images.example/x", "not an absolute http://")]
    [InlineData("url", "https://user:secret@images.example/x", "credentials")]
    [InlineData("cmdline", "console=ttyS0' init=/bin/sh", "printable ASCII only")]
    [InlineData("cmdline", "a\u0000b", "printable ASCII only")]
    [InlineData("format", "kernel", "not a disk image")]
    [InlineData("data", "512", "outside 1 MiB")]
    [InlineData("save", "http://x/../y", "save upload url")]
    public void FromWire_HostileImageOrDiskValues_Rejected(string field, string value, string named)
    {
        var spec = Spec();
        switch (field)
        {
            case "sha": spec.Image.Sha256 = value; break;
            case "url": spec.Image.Url = value; break;
            case "cmdline": spec.Image.KernelCmdline = System.Text.RegularExpressions.Regex.Unescape(value); break;
            case "format": spec.Image.Format = V1.ImageFormat.Kernel; break;
            case "data": spec.DataDiskBytes.Add(ulong.Parse(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            default: spec.Save = new V1.SaveRequest { Generation = 1, ImageName = "mine", UploadUrl = value }; break;
        }

        var error = Assert.Throws<FormatException>(() => Workspace.FromWire(spec));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nodeagent-w-abc", true, "w-abc")]
    [InlineData("someone-elses-vm", false, "")]
    [InlineData("nodeagent-", false, "")]
    [InlineData("nodeagent-UPPER", false, "")]
    public void DomainNames_OnlyNodeAgentsOwnAreRecognised(string name, bool ours, string id)
    {
        Assert.Equal(ours, DomainNames.TryParse(name, out var parsed));
        if (ours)
        {
            Assert.Equal(id, parsed);
        }
    }
}
