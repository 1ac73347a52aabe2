using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>
/// The libvirt adapter against libvirt's own test driver: the real C API and its error handling, with
/// simulated domains and no daemon. All connections to test:///default in this process share one state
/// (with a predefined running domain "test"), so every test uses unique names and removes its domains.
/// </summary>
[Collection(NodeAgent.Tests.Agent.TestDriver.Collection)]
public sealed class LibvirtHypervisorTests : IDisposable
{
    private const string TestUri = "test:///default";

    private readonly LibvirtHypervisor _hypervisor = LibvirtHypervisor.Open(TestUri);
    private readonly List<string> _created = [];

    public void Dispose()
    {
        foreach (var name in _created)
        {
            _hypervisor.Destroy(name);
            _hypervisor.Undefine(name);
        }

        _hypervisor.Dispose();
    }

    [Fact]
    public void Open_TestDriver_DomainTypeIsTest()
    {
        Assert.Equal("test", _hypervisor.DomainType);
        Assert.Equal(TestUri, _hypervisor.Uri);
        // The test driver simulates an i686 host whose guests list no machine types.
        Assert.Equal("i686", _hypervisor.Architecture);
        Assert.Equal("pc", _hypervisor.MachineType);
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
    public void Define_ThenList_DomainShutoff()
    {
        var name = NewName();

        _hypervisor.Define(Xml(name));
        var domains = _hypervisor.ListDomains();

        var listed = Assert.Single(domains, d => d.Name == name);
        Assert.Equal(DomainState.Shutoff, listed.State);
        Assert.NotEqual(Guid.Empty, listed.Uuid);
        Assert.Contains(domains, d => d is { Name: "test", State: DomainState.Running });
    }

    [Fact]
    public void Define_Redefine_KeepsUuid()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name, memoryKiB: 65536));
        var before = _hypervisor.FindDomain(name)!;

        _hypervisor.Define(Xml(name, memoryKiB: 131072));

        var after = _hypervisor.FindDomain(name)!;
        Assert.Equal(before.Uuid, after.Uuid);
        Assert.Contains("131072", _hypervisor.GetXml(name), StringComparison.Ordinal);
    }

    [Fact]
    public void Define_RedefineWithOtherUuid_LibvirtExceptionSaysItExists()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));
        var other = Xml(name).Replace("</name>", $"</name><uuid>{Guid.NewGuid()}</uuid>", StringComparison.Ordinal);

        var error = Assert.Throws<LibvirtException>(() => _hypervisor.Define(other));

        Assert.Equal("virDomainDefineXML", error.Operation);
        Assert.Equal(name, error.DomainName);
        Assert.Contains("already exists with uuid", error.Message, StringComparison.Ordinal);
        Assert.Contains("undefine it first", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Define_MalformedXml_LibvirtExceptionWithLibvirtsMessage()
    {
        var error = Assert.Throws<LibvirtException>(() => _hypervisor.Define("<domain type='test'><name>broken</name>"));

        Assert.Equal("virDomainDefineXML", error.Operation);
        Assert.True(error.IsInvalidXml, $"code {error.ErrorCode}: {error.Message}");
        Assert.False(string.IsNullOrWhiteSpace(error.LibvirtMessage));
        Assert.Contains(error.LibvirtMessage, error.Message, StringComparison.Ordinal);
        Assert.Null(_hypervisor.FindDomain("broken"));
    }

    [Fact]
    public void Start_ThenFind_Running()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));

        _hypervisor.Start(name);

        Assert.Equal(DomainState.Running, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Start_Twice_NoError()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));
        _hypervisor.Start(name);

        _hypervisor.Start(name);

        Assert.Equal(DomainState.Running, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Start_Missing_LibvirtExceptionIsNoDomain()
    {
        var name = NewName();

        var error = Assert.Throws<LibvirtException>(() => _hypervisor.Start(name));

        Assert.True(error.IsNoDomain);
        Assert.Equal(LibvirtException.NoDomainCode, error.ErrorCode);
        Assert.Equal(name, error.DomainName);
        Assert.Contains($"on domain {name} failed", error.Message, StringComparison.Ordinal);
        Assert.Contains("the domain does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shutdown_Running_GuestStops()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));
        _hypervisor.Start(name);

        _hypervisor.Shutdown(name);

        // The test driver's guests obey at once; a real guest takes its time or ignores the request.
        Assert.Equal(DomainState.Shutoff, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Shutdown_NotRunning_NoError()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));

        _hypervisor.Shutdown(name);

        Assert.Equal(DomainState.Shutoff, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_Running_Shutoff()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));
        _hypervisor.Start(name);

        _hypervisor.Destroy(name);

        Assert.Equal(DomainState.Shutoff, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_NotRunning_NoError()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));

        _hypervisor.Destroy(name);
        _hypervisor.Destroy(name);

        Assert.Equal(DomainState.Shutoff, _hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_Missing_NoError()
    {
        _hypervisor.Destroy(NewName());
    }

    [Fact]
    public void Undefine_Defined_DomainGone()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));

        _hypervisor.Undefine(name);

        Assert.Null(_hypervisor.FindDomain(name));
        Assert.DoesNotContain(_hypervisor.ListDomains(), d => d.Name == name);
    }

    [Fact]
    public void Undefine_Missing_NoError()
    {
        var name = NewName();

        _hypervisor.Undefine(name);
        _hypervisor.Undefine(name);

        Assert.Null(_hypervisor.FindDomain(name));
    }

    [Fact]
    public void Undefine_Running_KeepsRunningUntilDestroyed()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));
        _hypervisor.Start(name);

        _hypervisor.Undefine(name);
        _hypervisor.Undefine(name);
        var afterUndefine = _hypervisor.FindDomain(name);
        _hypervisor.Destroy(name);

        // libvirt turns a running domain it undefines into a transient one, which vanishes when it stops.
        Assert.Equal(DomainState.Running, afterUndefine?.State);
        Assert.Null(_hypervisor.FindDomain(name));
    }

    [Fact]
    public void GetXml_ReturnsDefinedName()
    {
        var name = NewName();
        _hypervisor.Define(Xml(name));

        var xml = _hypervisor.GetXml(name);

        Assert.Contains($"<name>{name}</name>", xml, StringComparison.Ordinal);
        Assert.Contains("<uuid>", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void GetXml_Missing_LibvirtExceptionIsNoDomain()
    {
        var error = Assert.Throws<LibvirtException>(() => _hypervisor.GetXml(NewName()));

        Assert.True(error.IsNoDomain);
    }

    [Fact]
    public void FindDomain_Missing_ReturnsNull()
    {
        Assert.Null(_hypervisor.FindDomain(NewName()));
    }

    [Fact]
    public void ListDomains_DoesNotLeak()
    {
        // Handles and arrays are released on every call: a thousand rounds of open, list, close must neither
        // crash (double free) nor run out of anything. Memory is not measured here.
        var name = NewName();
        _hypervisor.Define(Xml(name));

        for (var i = 0; i < 1000; i++)
        {
            using var hypervisor = LibvirtHypervisor.Open(TestUri);
            Assert.Contains(hypervisor.ListDomains(), d => d.Name == name);
        }
    }

    [Fact]
    public void Operations_FromSeveralThreadsAtOnce_AllSucceed()
    {
        var names = Enumerable.Range(0, 16).Select(_ => NewName()).ToList();

        Parallel.ForEach(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, name =>
        {
            _hypervisor.Define(Xml(name));
            _hypervisor.Start(name);
            Assert.Throws<LibvirtException>(() => _hypervisor.GetXml(name + "-missing"));
            _ = _hypervisor.ListDomains();
            _hypervisor.Destroy(name);
        });

        var states = _hypervisor.ListDomains().Where(d => names.Contains(d.Name)).Select(d => d.State).ToList();
        Assert.Equal(names.Count, states.Count);
        Assert.All(states, s => Assert.Equal(DomainState.Shutoff, s));
    }

    [Fact]
    public void Dispose_ThenCall_ObjectDisposedException()
    {
        var hypervisor = LibvirtHypervisor.Open(TestUri);

        hypervisor.Dispose();

        Assert.Throws<ObjectDisposedException>(() => hypervisor.ListDomains());
    }

    private static string Xml(string name, int memoryKiB = 65536) =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>{memoryKiB}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

    private string NewName()
    {
        var name = $"t-{Guid.NewGuid():N}";
        lock (_created)
        {
            _created.Add(name);
        }

        return name;
    }
}
