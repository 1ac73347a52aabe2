using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>
/// What every libvirt connection of the agent must do, against libvirt's own test driver: run once through
/// libvirt's C library (<see cref="LibvirtHypervisorTests"/>, the driver inside this process) and once through the
/// agent's own remote-protocol client (<see cref="RemoteHypervisorTests"/>, the driver inside the real libvirtd).
/// Either way all connections to test:///default share one state (with a predefined running domain "test"), so
/// every test uses unique names and removes its domains.
/// </summary>
public abstract class LibvirtContractTests : IDisposable
{
    private readonly List<string> _created = [];
    private ILibvirtConnection? _hypervisor;

    /// <summary>The URI the connection under test opens.</summary>
    protected abstract string TestUri { get; }

    protected ILibvirtConnection Hypervisor => _hypervisor ??= Open();

    public void Dispose()
    {
        foreach (var name in _created)
        {
            Hypervisor.Destroy(name);
            Hypervisor.Undefine(name);
        }

        _hypervisor?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected abstract ILibvirtConnection Open();

    [Fact]
    public void Open_TestDriver_DomainTypeIsTest()
    {
        Assert.Equal("test", Hypervisor.DomainType);
        Assert.Equal(TestUri, Hypervisor.Uri);
        // The test driver simulates an i686 host whose guests list no machine types.
        Assert.Equal("i686", Hypervisor.Architecture);
        Assert.Equal("pc", Hypervisor.MachineType);
    }

    [Fact]
    public void Define_ThenList_DomainShutoff()
    {
        var name = NewName();

        Hypervisor.Define(Xml(name));
        var domains = Hypervisor.ListDomains();

        var listed = Assert.Single(domains, d => d.Name == name);
        Assert.Equal(DomainState.Shutoff, listed.State);
        Assert.NotEqual(Guid.Empty, listed.Uuid);
        Assert.Contains(domains, d => d is { Name: "test", State: DomainState.Running });
    }

    [Fact]
    public void Define_Redefine_KeepsUuid()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name, memoryKiB: 65536));
        var before = Hypervisor.FindDomain(name)!;

        Hypervisor.Define(Xml(name, memoryKiB: 131072));

        var after = Hypervisor.FindDomain(name)!;
        Assert.Equal(before.Uuid, after.Uuid);
        Assert.Contains("131072", Hypervisor.GetXml(name), StringComparison.Ordinal);
    }

    [Fact]
    public void Define_RedefineWithOtherUuid_LibvirtExceptionSaysItExists()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        var other = Xml(name).Replace("</name>", $"</name><uuid>{Guid.NewGuid()}</uuid>", StringComparison.Ordinal);

        var error = Assert.Throws<LibvirtException>(() => Hypervisor.Define(other));

        Assert.Equal("virDomainDefineXML", error.Operation);
        Assert.Equal(name, error.DomainName);
        Assert.Contains("already exists with uuid", error.Message, StringComparison.Ordinal);
        Assert.Contains("undefine it first", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Define_MalformedXml_LibvirtExceptionWithLibvirtsMessage()
    {
        var error = Assert.Throws<LibvirtException>(() => Hypervisor.Define("<domain type='test'><name>broken</name>"));

        Assert.Equal("virDomainDefineXML", error.Operation);
        Assert.True(error.IsInvalidXml, $"code {error.ErrorCode}: {error.Message}");
        Assert.False(string.IsNullOrWhiteSpace(error.LibvirtMessage));
        Assert.Contains(error.LibvirtMessage, error.Message, StringComparison.Ordinal);
        Assert.Null(Hypervisor.FindDomain("broken"));
    }

    [Fact]
    public void Start_ThenFind_Running()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        Hypervisor.Start(name);

        Assert.Equal(DomainState.Running, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Start_Twice_NoError()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        Hypervisor.Start(name);

        Assert.Equal(DomainState.Running, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Start_Missing_LibvirtExceptionIsNoDomain()
    {
        var name = NewName();

        var error = Assert.Throws<LibvirtException>(() => Hypervisor.Start(name));

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
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        Hypervisor.Shutdown(name);

        // The test driver's guests obey at once; a real guest takes its time or ignores the request.
        Assert.Equal(DomainState.Shutoff, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Shutdown_NotRunning_NoError()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        Hypervisor.Shutdown(name);

        Assert.Equal(DomainState.Shutoff, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_Running_Shutoff()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        Hypervisor.Destroy(name);

        Assert.Equal(DomainState.Shutoff, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_NotRunning_NoError()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        Hypervisor.Destroy(name);
        Hypervisor.Destroy(name);

        Assert.Equal(DomainState.Shutoff, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Destroy_Missing_NoError()
    {
        Hypervisor.Destroy(NewName());
    }

    [Fact]
    public void Undefine_Defined_DomainGone()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        Hypervisor.Undefine(name);

        Assert.Null(Hypervisor.FindDomain(name));
        Assert.DoesNotContain(Hypervisor.ListDomains(), d => d.Name == name);
    }

    [Fact]
    public void Undefine_Missing_NoError()
    {
        var name = NewName();

        Hypervisor.Undefine(name);
        Hypervisor.Undefine(name);

        Assert.Null(Hypervisor.FindDomain(name));
    }

    [Fact]
    public void Undefine_Running_KeepsRunningUntilDestroyed()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        Hypervisor.Undefine(name);
        Hypervisor.Undefine(name);
        var afterUndefine = Hypervisor.FindDomain(name);
        Hypervisor.Destroy(name);

        // libvirt turns a running domain it undefines into a transient one, which vanishes when it stops.
        Assert.Equal(DomainState.Running, afterUndefine?.State);
        Assert.Null(Hypervisor.FindDomain(name));
    }

    [Fact]
    public void GetXml_ReturnsDefinedName()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        var xml = Hypervisor.GetXml(name);

        Assert.Contains($"<name>{name}</name>", xml, StringComparison.Ordinal);
        Assert.Contains("<uuid>", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void GetXml_Missing_LibvirtExceptionIsNoDomain()
    {
        var error = Assert.Throws<LibvirtException>(() => Hypervisor.GetXml(NewName()));

        Assert.True(error.IsNoDomain);
    }

    [Fact]
    public void FindDomain_Missing_ReturnsNull()
    {
        Assert.Null(Hypervisor.FindDomain(NewName()));
    }

    [Fact]
    public void Operations_FromSeveralThreadsAtOnce_AllSucceed()
    {
        var names = Enumerable.Range(0, 16).Select(_ => NewName()).ToList();

        Parallel.ForEach(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, name =>
        {
            Hypervisor.Define(Xml(name));
            Hypervisor.Start(name);
            Assert.Throws<LibvirtException>(() => Hypervisor.GetXml(name + "-missing"));
            _ = Hypervisor.ListDomains();
            Hypervisor.Destroy(name);
        });

        var states = Hypervisor.ListDomains().Where(d => names.Contains(d.Name)).Select(d => d.State).ToList();
        Assert.Equal(names.Count, states.Count);
        Assert.All(states, s => Assert.Equal(DomainState.Shutoff, s));
    }

    [Fact]
    public void Pause_ThenUnpause_StateFollowsAndRepeatsAreNoOps()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        Hypervisor.Pause(name);
        Hypervisor.Pause(name);
        var paused = Hypervisor.FindDomain(name)?.State;
        Hypervisor.Unpause(name);
        Hypervisor.Unpause(name);

        Assert.Equal(DomainState.Paused, paused);
        Assert.Equal(DomainState.Running, Hypervisor.FindDomain(name)?.State);
    }

    [Fact]
    public void Pause_NotRunning_LibvirtExceptionNamesDomain()
    {
        var name = NewName();
        Hypervisor.Define(Xml(name));

        var error = Assert.Throws<LibvirtException>(() => Hypervisor.Pause(name));

        // The test driver says "internal error: domain ... not running"; QEMU says operation invalid.
        Assert.Equal("virDomainSuspend", error.Operation);
        Assert.Equal(name, error.DomainName);
        Assert.Contains("not running", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_SetOnRunningDomain_ReadBackAndKeptInDefinition()
    {
        const string Namespace = "urn:nodeagent:test";
        var name = NewName();
        Hypervisor.Define(Xml(name));
        Hypervisor.Start(name);

        var before = Hypervisor.GetMetadata(name, Namespace);
        Hypervisor.SetMetadata(name, Namespace, "t", "<step name='started' n='1'/>");
        Hypervisor.SetMetadata(name, Namespace, "t", "<step name='running' n='2'/>");
        var read = Hypervisor.GetMetadata(name, Namespace);
        Hypervisor.Destroy(name);

        Assert.Null(before);
        Assert.Contains("running", read, StringComparison.Ordinal);
        Assert.DoesNotContain("started", read, StringComparison.Ordinal);
        // Destroyed, the domain is its persistent definition again: the metadata was written there too.
        Assert.Contains("running", Hypervisor.GetMetadata(name, Namespace), StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_MissingDomain_LibvirtExceptionIsNoDomain()
    {
        var error = Assert.Throws<LibvirtException>(() => Hypervisor.GetMetadata(NewName(), "urn:nodeagent:test"));

        Assert.True(error.IsNoDomain);
    }

    [Fact]
    public void GetAllDomainStats_RunningAndStopped_StateAndCpuOfRunningOnes()
    {
        var prefix = $"s-{Guid.NewGuid():N}"[..12];
        var running = NewName(prefix);
        var stopped = NewName(prefix);
        Hypervisor.Define(Xml(running, memoryKiB: 131072));
        Hypervisor.Define(Xml(stopped));
        Hypervisor.Start(running);

        var stats = Hypervisor.GetAllDomainStats(prefix).ToDictionary(s => s.Name);

        Assert.Equal(new[] { running, stopped }.Order(), stats.Keys.Order());
        Assert.Equal((double)DomainState.Running, stats[running]["state.state"]);
        Assert.True(stats[running]["cpu.time"] > 0);
        Assert.Equal(131072, stats[running]["balloon.maximum"]);
        Assert.Equal((double)DomainState.Shutoff, stats[stopped]["state.state"]);
        Assert.Null(stats[stopped]["cpu.time"]);
    }

    [Fact]
    public void WatchLifecycle_DefineStartDestroy_EventsArriveInOrder()
    {
        var name = NewName();
        var events = new System.Collections.Concurrent.BlockingCollection<DomainEvent>();
        using (Hypervisor.WatchLifecycle(e =>
        {
            if (e.Name == name)
            {
                events.Add(e);
            }
        }))
        {
            Hypervisor.Define(Xml(name));
            Hypervisor.Start(name);
            Hypervisor.Destroy(name);

            var kinds = new List<DomainEventKind>();
            while (kinds.Count < 3 && events.TryTake(out var e, TimeSpan.FromSeconds(5)))
            {
                kinds.Add(e.Kind);
            }

            Assert.Equal([DomainEventKind.Defined, DomainEventKind.Started, DomainEventKind.Stopped], kinds);
        }

        // Unsubscribed: later events reach nobody.
        Hypervisor.Start(name);
        Assert.False(events.TryTake(out _, TimeSpan.FromMilliseconds(300)));
    }

    protected static string Xml(string name, int memoryKiB = 65536) =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>{memoryKiB}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

    protected string NewName(string prefix = "t-")
    {
        var name = $"{prefix}{Guid.NewGuid():N}";
        lock (_created)
        {
            _created.Add(name);
        }

        return name;
    }
}
