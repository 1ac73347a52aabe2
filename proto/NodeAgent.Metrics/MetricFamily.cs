using System.Collections.Concurrent;

namespace NodeAgent.Metrics;

/// <summary>
/// A family of series with a fixed set of label names, and the children (one per set of label values) it has
/// handed out. New series beyond the registry's cap are not kept: the caller gets a detached child that counts
/// nowhere, and the drop is counted, so a label value explosion cannot grow memory without bound.
/// </summary>
public abstract class MetricFamily<TChild>
    where TChild : class
{
    private readonly ConcurrentDictionary<LabelValues, TChild> _children = new();
    private readonly MetricsRegistry _registry;
    private TChild? _unlabelled;

    private protected MetricFamily(MetricsRegistry registry, string name, string help, MetricType type, string[] labelNames)
    {
        _registry = registry;
        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames;
    }

    public string Name { get; }

    public string Help { get; }

    public MetricType Type { get; }

    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The child for these label values (one per label name, in order), created on first use.</summary>
    /// <exception cref="ArgumentException">The number of values is not the number of label names.</exception>
    public TChild WithLabels(params string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != LabelNames.Count)
        {
            throw new ArgumentException($"'{Name}' has {LabelNames.Count} labels ({string.Join(", ", LabelNames)}) but {values.Length} values were given", nameof(values));
        }

        var key = new LabelValues(values);
        if (_children.TryGetValue(key, out var child))
        {
            return child;
        }

        if (_children.Count >= _registry.MaxSeriesPerFamily)
        {
            _registry.SeriesDropped(Name);
            return NewChild();
        }

        return _children.GetOrAdd(key, _ => NewChild());
    }

    /// <summary>The one child of a family without labels.</summary>
    private protected TChild Unlabelled
    {
        get
        {
            if (LabelNames.Count != 0)
            {
                throw new InvalidOperationException($"'{Name}' has labels ({string.Join(", ", LabelNames)}); use WithLabels(...)");
            }

            return _unlabelled ??= WithLabels();
        }
    }

    private protected abstract TChild NewChild();

    private protected abstract void WriteChild(TextFormat writer, string[] labelValues, TChild child);

    internal void Write(TextFormat writer)
    {
        writer.Family(Name, Help, Type);
        foreach (var (key, child) in _children.OrderBy(c => c.Key))
        {
            WriteChild(writer, key.Values, child);
        }
    }
}

/// <summary>A set of label values, compared by value; ordered so the body is the same from scrape to scrape.</summary>
internal sealed class LabelValues(string[] values) : IEquatable<LabelValues>, IComparable<LabelValues>
{
    private readonly int _hash = Hash(values);

    public string[] Values { get; } = values;

    public bool Equals(LabelValues? other) => other is not null && _hash == other._hash && Values.AsSpan().SequenceEqual(other.Values);

    public override bool Equals(object? obj) => Equals(obj as LabelValues);

    public override int GetHashCode() => _hash;

    public int CompareTo(LabelValues? other)
    {
        if (other is null)
        {
            return 1;
        }

        for (var i = 0; i < Math.Min(Values.Length, other.Values.Length); i++)
        {
            var c = string.CompareOrdinal(Values[i], other.Values[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return Values.Length.CompareTo(other.Values.Length);
    }

    private static int Hash(string[] values)
    {
        var hash = new HashCode();
        foreach (var value in values)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(values));
            hash.Add(value, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }
}
