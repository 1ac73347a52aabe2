using NodeAgent.Agent.HostFacts;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Agent;

/// <summary>Host facts from /proc, read from a prepared directory laid out like /proc.</summary>
public sealed class HostFactsTests : IDisposable
{
    private readonly TempDirectory _proc = new();

    public void Dispose() => _proc.Dispose();

    private void Write(string cpuLine)
    {
        File.WriteAllText(Path.Combine(_proc.Path, "stat"), cpuLine + "\ncpu0 1 2 3 4 5 6 7 8\n");
        File.WriteAllText(Path.Combine(_proc.Path, "meminfo"), "MemTotal:       16384000 kB\nMemFree:  1 kB\nMemAvailable:    8192000 kB\n");
        File.WriteAllText(Path.Combine(_proc.Path, "loadavg"), "1.25 0.50 0.10 1/100 4242\n");
    }

    [Fact]
    public void SampleLoad_TwoSamples_BusyShareOfTheCpuTimeBetweenThem()
    {
        var probe = new HostProbe(new ProcFileSystem(_proc.Path));
        Write("cpu  100 0 100 800 0 0 0 0 0 0");
        var first = probe.SampleLoad();

        // 300 more jiffies: 150 busy (user+system), 150 idle+iowait.
        Write("cpu  200 0 150 900 50 0 0 0 0 0");
        var second = probe.SampleLoad();

        Assert.Equal(0, first.CpuUtilization);
        Assert.Equal(0.5, second.CpuUtilization, precision: 6);
        Assert.Equal(8192000L * 1024, second.MemoryAvailableBytes);
        Assert.Equal(1.25, second.LoadAverage1m);
    }

    [Fact]
    public void HostIdentity_CreatedOnceThenKept_EvenIfTheHostnameChanges()
    {
        using var state = new TempDirectory();

        var first = HostIdentity.LoadOrCreate(state.Path, null, "Compute-Node_07.lab");
        var second = HostIdentity.LoadOrCreate(state.Path, null, "renamed");

        Assert.Equal("compute-node_07.lab", first.Value);
        Assert.Equal(first, second);
    }

    [Fact]
    public void HostIdentity_CorruptFile_SaysWhichFileAndWhatToDo()
    {
        using var state = new TempDirectory();
        File.WriteAllText(Path.Combine(state.Path, HostIdentity.FileName), "Not Valid!\n");

        var error = Assert.Throws<InvalidDataException>(() => HostIdentity.LoadOrCreate(state.Path, null, "h"));

        Assert.Contains(HostIdentity.FileName, error.Message, StringComparison.Ordinal);
        Assert.Contains("remove it", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("...", "host")]
    [InlineData("-weird-", "weird-")]
    [InlineData("ÜMLAUT", "mlaut")]
    public void FromHostname_AnyName_GivesAValidId(string hostname, string expected) =>
        Assert.Equal(expected, HostIdentity.FromHostname(hostname));
}
