using System.Globalization;
using System.Text.RegularExpressions;
using NodeAgent.Metrics;

namespace NodeAgent.Tests.Metrics;

/// <summary>The process and runtime families, read from this test process at scrape time and checked against what the process reports itself.</summary>
public sealed class ProcessMetricsTests
{
    [Fact(Timeout = 30_000)]
    public async Task Render_AfterWorkAndACollection_GivesThisProcesssOwnFiguresAndPassesPromtool()
    {
        var registry = new MetricsRegistry();
        ProcessMetrics.AddTo(registry);
        var first = registry.Render();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        _ = new byte[1 << 20];
        var second = registry.Render();

        var (code, output) = await Promtool.CheckMetricsAsync(second);
        Assert.True(code == 0, output);
        Assert.InRange(Value(second, "process_cpu_seconds_total"), 0.01, Environment.CpuUsage.TotalTime.TotalSeconds + 1);
        Assert.InRange(Value(second, "process_resident_memory_bytes"), 10 << 20, Environment.WorkingSet * 2.0);
        Assert.InRange(Value(second, "process_open_fds"), 4, 100_000);
        Assert.InRange(Value(second, "process_start_time_seconds"),
            DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.True(Value(second, "dotnet_gc_collections_total{generation=\"2\"}") > Value(first, "dotnet_gc_collections_total{generation=\"2\"}"));
        Assert.True(Value(second, "dotnet_gc_collections_total{generation=\"0\"}") >= Value(second, "dotnet_gc_collections_total{generation=\"2\"}"));
        Assert.True(Value(second, "dotnet_gc_pause_seconds_total") > 0);
        Assert.True(Value(second, "dotnet_gc_allocated_bytes_total") - Value(first, "dotnet_gc_allocated_bytes_total") >= 1 << 20);
        Assert.True(Value(second, "dotnet_gc_heap_bytes") > 0);
    }

    private static double Value(string body, string series)
    {
        var match = Regex.Match(body, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no series {series} in:\n{body}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
