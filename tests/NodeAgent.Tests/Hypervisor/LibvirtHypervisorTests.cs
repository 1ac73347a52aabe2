using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>The contract through libvirt's C library, with the test driver inside this process; and what only the library does.</summary>
[Collection(NodeAgent.Tests.Agent.TestDriver.Collection)]
public sealed class LibvirtHypervisorTests : LibvirtContractTests
{
    protected override string TestUri => "test:///default";

    protected override ILibvirtConnection Open() => LibvirtHypervisor.Open(TestUri);

    [Fact]
    public void Open_TestDriver_ChosenForInProcessDriver()
    {
        Assert.IsType<LibvirtHypervisor>(Libvirt.Open(TestUri), exactMatch: true).Dispose();
    }

    [Fact]
    public void Open_BadUri_LibvirtExceptionNamesUri()
    {
        var error = Assert.Throws<LibvirtException>(() => LibvirtHypervisor.Open("nosuchdriver:///system"));

        Assert.Equal("virConnectOpen", error.Operation);
        Assert.Contains("nosuchdriver:///system", error.Message, StringComparison.Ordinal);
        Assert.Contains("check the connection URI", error.Message, StringComparison.Ordinal);
        Assert.True(error.IsConnectionFailure);
        Assert.NotEqual(0, error.ErrorCode);
    }

    [Fact]
    public void Open_DaemonSocketMissing_LibvirtExceptionSaysStartLibvirtd()
    {
        // A socket path nobody listens on stands in for a stopped libvirtd.
        var uri = $"qemu:///system?socket=/nonexistent-{Guid.NewGuid():N}/libvirt-sock";

        var error = Assert.Throws<LibvirtException>(() => LibvirtHypervisor.Open(uri));

        Assert.True(error.IsConnectionFailure);
        Assert.Contains(uri, error.Message, StringComparison.Ordinal);
        Assert.Contains("is libvirtd running?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ListDomains_DoesNotLeak()
    {
        // Handles and arrays are released on every call: a thousand rounds of open, list, close must neither
        // crash (double free) nor run out of anything. Memory is not measured here.
        var name = NewName();
        Hypervisor.Define(Xml(name));

        for (var i = 0; i < 1000; i++)
        {
            using var hypervisor = LibvirtHypervisor.Open(TestUri);
            Assert.Contains(hypervisor.ListDomains(), d => d.Name == name);
        }
    }

    [Fact]
    public void Dispose_ThenCall_ObjectDisposedException()
    {
        var hypervisor = LibvirtHypervisor.Open(TestUri);

        hypervisor.Dispose();

        Assert.Throws<ObjectDisposedException>(() => hypervisor.ListDomains());
    }

}
