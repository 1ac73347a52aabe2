using System.Globalization;
using NodeAgent.Agent.Partitions;
using Xunit.Abstractions;

namespace NodeAgent.Tests.Partitions;

/// <summary>
/// The kernel enforcing partition weights on this machine's real cgroup v1: 10 CPU-bound processes in project A's
/// partition and 1 in B's, all pinned to CPU 0. Without partitions B's one process would get 1/11 of the CPU; with them
/// B's partition gets its weight's share. Measured over ~3 s with wide margins: a check of the mechanism, not of speed.
/// </summary>
public sealed class CgroupFairShareTests(ITestOutputHelper output) : IDisposable
{
    private const string Spin = "while :; do :; done";
    private readonly RealCgroups _host = new();

    public void Dispose() => _host.Dispose();

    [Theory(Timeout = 60_000)]
    [InlineData(1024u, 1024u, 0.35)]
    [InlineData(1024u, 2048u, 0.55)]
    public async Task Ensure_TenProcessesInAOneInB_BGetsItsWeightsShareOfTheCpu(uint sharesA, uint sharesB, double leastShareOfB)
    {
        var a = ProjectPartitions.PartitionFor("a");
        var b = ProjectPartitions.PartitionFor("b");
        _host.Partitions.Ensure(a, sharesA);
        _host.Partitions.Ensure(b, sharesB);
        foreach (var partition in new[] { a, b })
        {
            File.WriteAllText(Path.Combine(_host.Directory("cpuset", partition), "cpuset.cpus"), "0");
            File.WriteAllText(Path.Combine(_host.Directory("cpuset", partition), "cpuset.mems"), "0");
        }

        using var burners = new Burners();
        for (var i = 0; i < 10; i++)
        {
            burners.Start(Spin, CgroupsOf(a));
        }

        burners.Start(Spin, CgroupsOf(b));
        var (a0, b0) = (Usage(a), Usage(b));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var (a1, b1) = (Usage(a), Usage(b));

        var usedA = a1 - a0;
        var usedB = b1 - b0;
        var shareOfB = (double)usedB / (usedA + usedB);
        output.WriteLine($"shares A {sharesA} B {sharesB}: A {usedA / 1e9:F3} s, B {usedB / 1e9:F3} s of CPU 0; B's share {shareOfB:F3}");
        Assert.True(usedA + usedB > 1_000_000_000, $"the processes ran {(usedA + usedB) / 1e9:F3} CPU seconds in 3 s");
        Assert.True(shareOfB >= leastShareOfB, $"B got {shareOfB:F3} of the CPU, expected at least {leastShareOfB} (1/11 without partitions)");
    }

    private string[] CgroupsOf(string partition) =>
        [_host.Directory("cpu", partition), _host.Directory("cpuacct", partition), _host.Directory("cpuset", partition)];

    private ulong Usage(string partition) =>
        ulong.Parse(File.ReadAllText(Path.Combine(_host.Directory("cpuacct", partition), "cpuacct.usage")).Trim(), CultureInfo.InvariantCulture);
}
