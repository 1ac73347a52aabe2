namespace NodeAgent.Metrics;

/// <summary>The kinds of metric family the text format 0.0.4 knows and this registry offers.</summary>
public enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// Checks metric and label names against the Prometheus data model when a family is registered, so a bad name
/// fails at start-up with the rule it broke instead of producing a body Prometheus rejects at every scrape.
/// </summary>
public static class MetricNames
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when <paramref name="name"/> is no valid metric name for a family of <paramref name="type"/>.</summary>
    public static void CheckMetric(string name, MetricType type)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!IsName(name, allowColon: true))
        {
            throw new ArgumentException($"metric name '{name}' is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*", nameof(name));
        }

        if (name.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException($"metric name '{name}' contains ':', which Prometheus keeps for recording rules; use '_'", nameof(name));
        }

        var endsTotal = name.EndsWith("_total", StringComparison.Ordinal);
        if (type == MetricType.Counter && !endsTotal)
        {
            throw new ArgumentException($"counter '{name}' must end in _total (Prometheus naming convention); call it '{name}_total'", nameof(name));
        }

        if (type != MetricType.Counter && endsTotal)
        {
            throw new ArgumentException($"{type.ToString().ToLowerInvariant()} '{name}' ends in _total, which marks counters; drop the suffix or make it a counter", nameof(name));
        }

        if (type == MetricType.Histogram && (name.EndsWith("_bucket", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_count", StringComparison.Ordinal)))
        {
            throw new ArgumentException($"histogram '{name}' ends in a suffix the format adds itself (_bucket, _sum, _count); drop it", nameof(name));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> when a label name is invalid, reserved, or repeated.</summary>
    public static void CheckLabels(string metric, IReadOnlyList<string> labels, MetricType type)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            if (label is null || !IsName(label, allowColon: false))
            {
                throw new ArgumentException($"label name '{label}' of '{metric}' is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*", nameof(labels));
            }

            if (label.StartsWith("__", StringComparison.Ordinal))
            {
                throw new ArgumentException($"label name '{label}' of '{metric}' starts with '__', which Prometheus reserves for internal use", nameof(labels));
            }

            if (type == MetricType.Histogram && label == "le")
            {
                throw new ArgumentException($"histogram '{metric}' cannot have a label 'le': the format uses it for bucket bounds", nameof(labels));
            }

            if (!seen.Add(label))
            {
                throw new ArgumentException($"label name '{label}' appears twice in '{metric}'", nameof(labels));
            }
        }
    }

    private static bool IsName(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':') || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
