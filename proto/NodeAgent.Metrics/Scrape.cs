namespace NodeAgent.Metrics;

/// <summary>A counter or gauge family whose samples collectors give at scrape time, declared up front with its label names.</summary>
public sealed class CollectedFamily
{
    internal CollectedFamily(string name, string help, MetricType type, string[] labelNames)
    {
        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames;
    }

    public string Name { get; }

    public string Help { get; }

    public MetricType Type { get; }

    public IReadOnlyList<string> LabelNames { get; }
}

/// <summary>
/// The samples collectors give during one scrape. A series given twice keeps its first value; series beyond the
/// registry's cap per family are dropped; both are counted in nodeagent_metrics_series_dropped_total.
/// </summary>
public sealed class Scrape
{
    private readonly MetricsRegistry _registry;
    private readonly Dictionary<CollectedFamily, Dictionary<LabelValues, double>> _samples = [];

    internal Scrape(MetricsRegistry registry) => _registry = registry;

    /// <summary>Gives one sample of <paramref name="family"/>, with one label value per label name, in order.</summary>
    /// <exception cref="ArgumentException">The number of values is not the number of label names.</exception>
    public void Add(CollectedFamily family, double value, params string[] labelValues)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(labelValues);
        if (labelValues.Length != family.LabelNames.Count)
        {
            throw new ArgumentException($"'{family.Name}' has {family.LabelNames.Count} labels ({string.Join(", ", family.LabelNames)}) but {labelValues.Length} values were given", nameof(labelValues));
        }

        if (!_samples.TryGetValue(family, out var series))
        {
            _samples[family] = series = [];
        }

        if (series.Count >= _registry.MaxSeriesPerFamily || !series.TryAdd(new LabelValues(labelValues), value))
        {
            _registry.SeriesDropped(family.Name);
        }
    }

    internal void Merge(Scrape other)
    {
        foreach (var (family, series) in other._samples)
        {
            if (_samples.TryAdd(family, series))
            {
                continue; // the usual case: no other collector gave this family's series
            }

            foreach (var (labels, value) in series)
            {
                Add(family, value, labels.Values);
            }
        }
    }

    internal void Write(TextFormat writer, CollectedFamily family)
    {
        writer.Family(family.Name, family.Help, family.Type);
        if (_samples.TryGetValue(family, out var series))
        {
            foreach (var (labels, value) in series.OrderBy(s => s.Key))
            {
                writer.Sample(family.Name, family.LabelNames, labels.Values, value);
            }
        }
    }
}
