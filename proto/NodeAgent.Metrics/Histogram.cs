namespace NodeAgent.Metrics;

/// <summary>
/// A histogram family: observations counted into buckets with fixed upper bounds (an implicit +Inf last), with
/// their sum and count. Rendered as cumulative <c>_bucket{le=...}</c>, <c>_sum</c> and <c>_count</c> series.
/// </summary>
public sealed class Histogram : MetricFamily<Histogram.Child>
{
    /// <summary>Bounds in seconds for operations from a millisecond to a minute.</summary>
    public static readonly IReadOnlyList<double> SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly double[] _bounds;

    internal Histogram(MetricsRegistry registry, string name, string help, IReadOnlyList<double> bounds, string[] labelNames)
        : base(registry, name, help, MetricType.Histogram, labelNames)
    {
        if (bounds.Count == 0 || bounds.Any(b => !double.IsFinite(b)) || bounds.Zip(bounds.Skip(1)).Any(p => p.First >= p.Second))
        {
            throw new ArgumentException($"histogram '{name}' needs finite bucket bounds in strictly increasing order (+Inf is added by itself)", nameof(bounds));
        }

        _bounds = [.. bounds];
    }

    /// <summary>Observes one value in the family's one series (families without labels only).</summary>
    public void Observe(double value) => Unlabelled.Observe(value);

    private protected override Child NewChild() => new(_bounds);

    private protected override void WriteChild(TextFormat writer, string[] labelValues, Child child)
    {
        var (counts, sum, count) = child.Snapshot();
        long cumulative = 0;
        for (var i = 0; i < _bounds.Length; i++)
        {
            cumulative += counts[i];
            writer.Sample(Name + "_bucket", LabelNames, labelValues, cumulative, "le", TextFormat.FormatValue(_bounds[i]));
        }

        writer.Sample(Name + "_bucket", LabelNames, labelValues, count, "le", "+Inf");
        writer.Sample(Name + "_sum", LabelNames, labelValues, sum);
        writer.Sample(Name + "_count", LabelNames, labelValues, count);
    }

    /// <summary>One histogram series. Observations take a lock held for three additions, so a scrape sees buckets, sum and count that agree.</summary>
    public sealed class Child(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly Lock _lock = new();
        private double _sum;
        private long _count;

        public void Observe(double value)
        {
            var index = Array.BinarySearch(bounds, value);
            if (index < 0)
            {
                index = ~index;
            }

            lock (_lock)
            {
                _counts[index]++;
                _sum += value;
                _count++;
            }
        }

        /// <summary>Observes the seconds elapsed since <paramref name="startTimestamp"/> (from <paramref name="time"/>'s GetTimestamp).</summary>
        public void ObserveSince(TimeProvider time, long startTimestamp)
        {
            ArgumentNullException.ThrowIfNull(time);
            Observe(time.GetElapsedTime(startTimestamp).TotalSeconds);
        }

        internal (long[] Counts, double Sum, long Count) Snapshot()
        {
            lock (_lock)
            {
                return ([.. _counts], _sum, _count);
            }
        }
    }
}
