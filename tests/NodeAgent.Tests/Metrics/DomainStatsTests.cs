using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Metrics;
using NodeAgent.Metrics;
using NodeAgent.Tests.Agent;

namespace NodeAgent.Tests.Metrics;

/// <summary>The bulk stats call and the libvirt error counter on libvirt's real test driver.</summary>
[Collection(TestDriver.Collection)]
public sealed class DomainStatsTests
{
    [Fact]
    public void GetAllDomainStats_TestDriver_GivesStateAndFillsCpuAndMemoryFromDomainInfo()
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");
        libvirt.Start(TestDriver.PredefinedDomain); // runs unless a test left it stopped; a no-op when it runs
        var predefined = libvirt.FindDomain(TestDriver.PredefinedDomain)!;

        var stats = libvirt.GetAllDomainStats(TestDriver.PredefinedDomain).Single(s => s.Name == TestDriver.PredefinedDomain);

        Assert.Equal((double)DomainState.Running, stats["state.state"]);
        Assert.True(stats["cpu.time"] > 0);
        Assert.Equal(predefined.MemoryBytes, stats["balloon.maximum"] * 1024);
        Assert.Equal(predefined.Vcpus, stats["vcpu.current"]);
    }

    [Fact]
    public void GetAllDomainStats_Prefix_LeavesOutOtherDomains()
    {
        using var libvirt = LibvirtHypervisor.Open("test:///default");

        var stats = libvirt.GetAllDomainStats("nodeagent-no-such-domain-");

        Assert.Empty(stats);
    }

    [Fact]
    public void DomainStats_Sum_AddsEveryDeviceAndIsNullWithoutDevices()
    {
        var stats = new DomainStats("d", new Dictionary<string, double>
        {
            ["net.count"] = 2, ["net.0.rx.bytes"] = 10, ["net.1.rx.bytes"] = 5, ["block.count"] = 0,
        });

        Assert.Equal(15, stats.Sum("net", "rx.bytes"));
        Assert.Null(stats.Sum("net", "tx.bytes"));
        Assert.Null(stats.Sum("block", "rd.bytes"));
        Assert.Null(stats.Sum("vcpu", "time"));
    }

    [Fact]
    public void ResilientHypervisor_FailedCall_IsCountedInLibvirtErrors()
    {
        var metrics = new AgentMetrics(new MetricsRegistry());
        using var hypervisor = new ResilientHypervisor(() => LibvirtHypervisor.Open("test:///default"), () => TimeSpan.FromSeconds(1), () => { },
            NullLogger<ResilientHypervisor>.Instance) { ErrorObserved = _ => metrics.LibvirtErrors.Inc() };

        Assert.Throws<LibvirtException>(() => hypervisor.GetXml("nodeagent-no-such-domain"));
        Assert.Throws<LibvirtException>(() => hypervisor.Start("nodeagent-no-such-domain"));

        Assert.Contains("nodeagent_libvirt_errors_total 2\n", metrics.Registry.Render(), StringComparison.Ordinal);
    }
}
