namespace NodeAgent.Metrics;

/// <summary>A counter family: values that only go up (reset when the process restarts). Names end in _total.</summary>
public sealed class Counter : MetricFamily<Counter.Child>
{
    internal Counter(MetricsRegistry registry, string name, string help, string[] labelNames)
        : base(registry, name, help, MetricType.Counter, labelNames)
    {
    }

    /// <summary>Adds <paramref name="amount"/> to the family's one series (families without labels only).</summary>
    public void Inc(double amount = 1) => Unlabelled.Inc(amount);

    private protected override Child NewChild() => new();

    private protected override void WriteChild(TextFormat writer, string[] labelValues, Child child) =>
        writer.Sample(Name, LabelNames, labelValues, child.Value);

    /// <summary>One counter series; lock-free.</summary>
    public sealed class Child
    {
        private long _bits;

        public double Value => BitConverter.Int64BitsToDouble(Volatile.Read(ref _bits));

        /// <exception cref="ArgumentOutOfRangeException"><paramref name="amount"/> is negative: counters never go down.</exception>
        public void Inc(double amount = 1)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(amount);
            Atomic.Add(ref _bits, amount);
        }
    }
}

/// <summary>A gauge family: values that go up and down.</summary>
public sealed class Gauge : MetricFamily<Gauge.Child>
{
    internal Gauge(MetricsRegistry registry, string name, string help, string[] labelNames)
        : base(registry, name, help, MetricType.Gauge, labelNames)
    {
    }

    /// <summary>Sets the family's one series (families without labels only).</summary>
    public void Set(double value) => Unlabelled.Set(value);

    private protected override Child NewChild() => new();

    private protected override void WriteChild(TextFormat writer, string[] labelValues, Child child) =>
        writer.Sample(Name, LabelNames, labelValues, child.Value);

    /// <summary>One gauge series; lock-free.</summary>
    public sealed class Child
    {
        private long _bits;

        public double Value => BitConverter.Int64BitsToDouble(Volatile.Read(ref _bits));

        public void Set(double value) => Volatile.Write(ref _bits, BitConverter.DoubleToInt64Bits(value));

        public void Inc(double amount = 1) => Atomic.Add(ref _bits, amount);

        public void Dec(double amount = 1) => Atomic.Add(ref _bits, -amount);
    }
}

internal static class Atomic
{
    /// <summary>Adds to a double kept as its bits, with compare-and-swap: no lock on the hot path.</summary>
    public static void Add(ref long bits, double amount)
    {
        var current = Volatile.Read(ref bits);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(current) + amount);
            var seen = Interlocked.CompareExchange(ref bits, next, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
