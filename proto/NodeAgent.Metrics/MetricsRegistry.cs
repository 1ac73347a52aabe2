using System.Text;

namespace NodeAgent.Metrics;

/// <summary>
/// Owns every metric family of one program and renders them, sorted by name, in the text format 0.0.4. Families
/// are declared up front with fixed label names (checked at registration); counters, gauges and histograms hold
/// values set as things happen, and collectors produce the samples of collected families at each scrape, for
/// what is measured on demand (per-workspace statistics, leases by state).
/// </summary>
/// <remarks>
/// The guard against label explosions: a family keeps at most <see cref="MaxSeriesPerFamily"/> series, and a
/// collector's samples beyond that (or repeating a series already given in the same scrape) are dropped; each
/// dropped series is counted in <c>nodeagent_metrics_series_dropped_total{family}</c>.
/// </remarks>
public sealed class MetricsRegistry
{
    /// <summary>Series kept per family unless the registry is made with another cap.</summary>
    public const int DefaultMaxSeriesPerFamily = 10_000;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Action<TextFormat, Scrape>> _families = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sampleNames = new(StringComparer.Ordinal);
    private readonly List<(string Name, Action<Scrape> Collect)> _collectors = [];
    private readonly Counter _dropped;
    private readonly Counter _collectorErrors;
    private readonly Lock _renderLock = new();
    private readonly StringBuilder _output = new(16 * 1024);

    public MetricsRegistry(int maxSeriesPerFamily = DefaultMaxSeriesPerFamily)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeriesPerFamily, 1);
        MaxSeriesPerFamily = maxSeriesPerFamily;
        _dropped = CreateCounter("nodeagent_metrics_series_dropped_total",
            "Series not exported because their family already had the most series allowed, or a collector gave the same series twice in one scrape.", "family");
        _collectorErrors = CreateCounter("nodeagent_metrics_collector_errors_total",
            "Scrapes in which a collector failed; its families were left out of that scrape.", "collector");
    }

    public int MaxSeriesPerFamily { get; }

    public Counter CreateCounter(string name, string help, params string[] labelNames) =>
        Add(new Counter(this, name, help, Checked(name, MetricType.Counter, labelNames)));

    public Gauge CreateGauge(string name, string help, params string[] labelNames) =>
        Add(new Gauge(this, name, help, Checked(name, MetricType.Gauge, labelNames)));

    public Histogram CreateHistogram(string name, string help, IReadOnlyList<double> buckets, params string[] labelNames)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        return Add(new Histogram(this, name, help, buckets, Checked(name, MetricType.Histogram, labelNames)));
    }

    /// <summary>Declares a counter or gauge family whose samples a collector gives at each scrape (see <see cref="AddCollector"/>).</summary>
    public CollectedFamily CreateCollected(MetricType type, string name, string help, params string[] labelNames)
    {
        if (type == MetricType.Histogram)
        {
            throw new ArgumentException($"collected family '{name}' cannot be a histogram; observe into a Histogram instead", nameof(type));
        }

        var family = new CollectedFamily(name, help, type, Checked(name, type, labelNames));
        Register(name, type, (writer, scrape) => scrape.Write(writer, family));
        return family;
    }

    /// <summary>Adds a callback run at each scrape, before rendering, to give the samples of collected families.</summary>
    /// <remarks>An exception from it is counted in nodeagent_metrics_collector_errors_total{collector=<paramref name="name"/>} and drops only what it gave in that scrape.</remarks>
    public void AddCollector(string name, Action<Scrape> collect)
    {
        ArgumentNullException.ThrowIfNull(collect);
        lock (_lock)
        {
            _collectors.Add((name, collect));
        }
    }

    /// <summary>Runs the collectors and renders every family, sorted by name.</summary>
    public string Render()
    {
        lock (_renderLock)
        {
            return RenderLocked().ToString();
        }
    }

    /// <summary><see cref="Render"/> as the UTF-8 bytes of an HTTP body, encoded straight from the renderer's buffer.</summary>
    public byte[] RenderUtf8()
    {
        lock (_renderLock)
        {
            var output = RenderLocked();
            var length = 0;
            foreach (var chunk in output.GetChunks())
            {
                length += Encoding.UTF8.GetByteCount(chunk.Span);
            }

            var bytes = new byte[length];
            var offset = 0;
            foreach (var chunk in output.GetChunks())
            {
                offset += Encoding.UTF8.GetBytes(chunk.Span, bytes.AsSpan(offset));
            }

            return bytes;
        }
    }

    // One scrape at a time, into one buffer kept from scrape to scrape: a body of 100 workspaces is ~240 KiB, and a
    // new buffer each time would be large-object garbage. Scrapes are seconds apart; the lock costs nothing.
    private StringBuilder RenderLocked()
    {
        (string Name, Action<Scrape> Collect)[] collectors;
        KeyValuePair<string, Action<TextFormat, Scrape>>[] families;
        lock (_lock)
        {
            collectors = [.. _collectors];
            families = [.. _families];
        }

        var scrape = new Scrape(this);
        foreach (var (name, collect) in collectors)
        {
            var partial = new Scrape(this);
            try
            {
                collect(partial);
                scrape.Merge(partial);
            }
#pragma warning disable CA1031 // A failing collector (libvirt gone) must not take the other series of the scrape with it.
            catch (Exception)
#pragma warning restore CA1031
            {
                _collectorErrors.WithLabels(name).Inc();
            }
        }

        _output.Clear();
        var writer = new TextFormat(_output);
        foreach (var (_, write) in families)
        {
            write(writer, scrape);
        }

        return _output;
    }

    internal void SeriesDropped(string family) => _dropped.WithLabels(family).Inc();

    private T Add<T>(T family)
        where T : class
    {
        var (name, type, write) = family switch
        {
            Counter c => (c.Name, c.Type, (Action<TextFormat, Scrape>)((w, _) => c.Write(w))),
            Gauge g => (g.Name, g.Type, (w, _) => g.Write(w)),
            Histogram h => (h.Name, h.Type, (w, _) => h.Write(w)),
            _ => throw new ArgumentException("unknown family type", nameof(family)),
        };
        Register(name, type, write);
        return family;
    }

    private void Register(string name, MetricType type, Action<TextFormat, Scrape> write)
    {
        // Every name a family puts on sample lines must be its own, or two families would write the same series.
        string[] names = type == MetricType.Histogram ? [name, name + "_bucket", name + "_sum", name + "_count"] : [name];
        lock (_lock)
        {
            if (names.FirstOrDefault(_sampleNames.Contains) is { } taken)
            {
                throw new ArgumentException($"metric '{name}' collides with a family already registered that writes '{taken}'; choose another name", nameof(name));
            }

            _sampleNames.UnionWith(names);
            _families.Add(name, write);
        }
    }

    private static string[] Checked(string name, MetricType type, string[] labelNames)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        MetricNames.CheckMetric(name, type);
        MetricNames.CheckLabels(name, labelNames, type);
        return [.. labelNames];
    }
}
