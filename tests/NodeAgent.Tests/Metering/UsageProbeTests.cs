using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Metering;
using NodeAgent.Tests.Agent;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>The probe and the sampler on libvirt's real test driver: this host's workspaces only, counters from the bulk stats call.</summary>
[Collection(TestDriver.Collection)]
public sealed class UsageProbeTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly LibvirtHypervisor _libvirt = LibvirtHypervisor.Open("test:///default");
    private readonly string _ours = "nodeagent-m" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _foreign = "nodeagent-m" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        foreach (var name in new[] { _ours, _foreign })
        {
            _libvirt.Destroy(name);
            _libvirt.Undefine(name);
        }

        _libvirt.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Read_TestDriver_GivesOnlyThisHostsWorkspaces_WithOwnerMemoryAndCpu()
    {
        Define(_ours, "h1");
        Define(_foreign, "another-host");

        var readings = Probe().Read();

        var ours = Assert.Single(readings, r => r.WorkspaceId == _ours["nodeagent-".Length..]);
        Assert.DoesNotContain(readings, r => r.WorkspaceId == _foreign["nodeagent-".Length..]);
        Assert.Equal("bob", ours.Owner);
        Assert.True(ours.PoweredOn);
        Assert.Equal(65536UL * 1024, ours.MemoryBytes);
        Assert.True(ours.Counters.CpuSeconds > 0, "no cgroup on the test driver: libvirt's cpu.time is used");
    }

    [Fact]
    public void Sampler_TestDriverDomainStopped_NextRecordHasHalfThePeriodPoweredOnAndNoneAfter()
    {
        Define(_ours, "h1");
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
        using var journal = UsageJournal.Open(Path.Combine(_dir.Path, "usage"));
        var sampler = new UsageSampler(Probe(), journal, "h1", TimeSpan.FromMinutes(1), clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageSampler>.Instance);
        sampler.SampleOnce();
        clock.Advance(TimeSpan.FromMinutes(1));
        var running = sampler.SampleOnce().Single(r => "nodeagent-" + r.LeaseId == _ours);
        _libvirt.Destroy(_ours);
        clock.Advance(TimeSpan.FromMinutes(1));
        var stopped = sampler.SampleOnce().Single(r => "nodeagent-" + r.LeaseId == _ours);
        clock.Advance(TimeSpan.FromMinutes(1));
        var afterwards = sampler.SampleOnce();

        Assert.Equal((60U, 60U), (running.PeriodSeconds, running.PoweredOnSeconds));
        Assert.Equal("h1", running.HostId);
        Assert.Equal(30U, stopped.PoweredOnSeconds);
        Assert.DoesNotContain(afterwards, r => "nodeagent-" + r.LeaseId == _ours);
        Assert.Equal(running.Sequence + 1, stopped.Sequence);
    }

    private UsageProbe Probe() => new(_libvirt, new CgroupCpu(Path.Combine(_dir.Path, "cgroup"), Path.Combine(_dir.Path, "run"), Path.Combine(_dir.Path, "proc")), "h1");

    private void Define(string name, string host)
    {
        _libvirt.Define($"<domain type='test'><name>{name}</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>");
        var metadata = new WorkspaceMetadata(name["nodeagent-".Length..], "bob", "img", DateTimeOffset.UtcNow.AddHours(1), WorkspacePhase.Running, Host: host);
        _libvirt.SetMetadata(name, WorkspaceMetadata.Namespace, WorkspaceMetadata.Prefix, metadata.ToElement());
        _libvirt.Start(name);
    }
}
