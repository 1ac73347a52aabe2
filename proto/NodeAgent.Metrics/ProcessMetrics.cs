using System.Diagnostics;

namespace NodeAgent.Metrics;

/// <summary>
/// The daemon's own process and .NET runtime, read at each scrape under the names Prometheus client libraries use:
/// CPU time, resident memory, open file descriptors, start time, and the garbage collector's collections, pauses,
/// heap and allocations. So a daemon's cost, and a pause that stalls it, show beside what it does.
/// </summary>
public static class ProcessMetrics
{
    private static readonly string[] Generations = ["0", "1", "2"];

    /// <summary>Adds the families and their collector to <paramref name="registry"/>.</summary>
    public static void AddTo(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var cpu = registry.CreateCollected(MetricType.Counter, "process_cpu_seconds_total", "User and system CPU time the process has used, in seconds.");
        var resident = registry.CreateCollected(MetricType.Gauge, "process_resident_memory_bytes", "Resident memory of the process, in bytes.");
        var fds = registry.CreateCollected(MetricType.Gauge, "process_open_fds", "File descriptors the process has open.");
        var start = registry.CreateCollected(MetricType.Gauge, "process_start_time_seconds", "When the process started, in seconds since the Unix epoch.");
        var collections = registry.CreateCollected(MetricType.Counter, "dotnet_gc_collections_total",
            "Garbage collections of each generation since the process started (a collection of generation 2 counts for 1 and 0 too).", "generation");
        var pauses = registry.CreateCollected(MetricType.Counter, "dotnet_gc_pause_seconds_total", "Time the garbage collector has paused the process's threads, in seconds.");
        var heap = registry.CreateCollected(MetricType.Gauge, "dotnet_gc_heap_bytes", "Size of the managed heap after the last garbage collection, fragmentation included, in bytes.");
        var allocated = registry.CreateCollected(MetricType.Counter, "dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.");
        var startedAt = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        var startSeconds = new DateTimeOffset(startedAt, TimeSpan.Zero).ToUnixTimeMilliseconds() / 1000.0;

        registry.AddCollector("process", scrape =>
        {
            scrape.Add(cpu, Environment.CpuUsage.TotalTime.TotalSeconds);
            scrape.Add(resident, Environment.WorkingSet);
            scrape.Add(fds, OpenFileDescriptors());
            scrape.Add(start, startSeconds);
            for (var generation = 0; generation < Generations.Length; generation++)
            {
                scrape.Add(collections, GC.CollectionCount(generation), Generations[generation]);
            }

            scrape.Add(pauses, GC.GetTotalPauseDuration().TotalSeconds);
            scrape.Add(heap, GC.GetGCMemoryInfo().HeapSizeBytes);
            // Precise: the imprecise figure leaves out what threads have allocated since their allocation contexts were last counted.
            scrape.Add(allocated, GC.GetTotalAllocatedBytes(precise: true));
        });
    }

    private static int OpenFileDescriptors()
    {
        var count = 0;
        foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            count++;
        }

        // The enumeration's own descriptor is counted too, as every reader of /proc/self/fd counts it.
        return count;
    }
}
