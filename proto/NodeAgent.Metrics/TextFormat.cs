using System.Globalization;
using System.Text;

namespace NodeAgent.Metrics;

/// <summary>
/// The one writer of the Prometheus text exposition format 0.0.4: <c># HELP</c> and <c># TYPE</c> once per family,
/// then one line per sample, <c>name{label="value",...} value</c>. Escapes help text (backslash, newline) and label
/// values (backslash, double quote, newline) and spells infinities and NaN as Prometheus parses them.
/// </summary>
public sealed class TextFormat(StringBuilder output)
{
    /// <summary>The Content-Type of a body in this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Starts a family: its HELP and TYPE lines.</summary>
    public void Family(string name, string help, MetricType type)
    {
        output.Append("# HELP ").Append(name).Append(' ');
        AppendEscaped(output, help, escapeQuote: false);
        output.Append("\n# TYPE ").Append(name).Append(' ').Append(type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');
    }

    /// <summary>One sample line; <paramref name="extraName"/>/<paramref name="extraValue"/> is an added label (a histogram's <c>le</c>).</summary>
    public void Sample(string name, IReadOnlyList<string> labelNames, IReadOnlyList<string> labelValues, double value, string? extraName = null, string? extraValue = null)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        ArgumentNullException.ThrowIfNull(labelValues);
        output.Append(name);
        if (labelNames.Count > 0 || extraName is not null)
        {
            output.Append('{');
            for (var i = 0; i < labelNames.Count; i++)
            {
                AppendLabel(i > 0, labelNames[i], labelValues[i]);
            }

            if (extraName is not null)
            {
                AppendLabel(labelNames.Count > 0, extraName, extraValue ?? string.Empty);
            }

            output.Append('}');
        }

        output.Append(' ');
        AppendValue(value);
        output.Append('\n');
    }

    /// <summary>A sample value or bucket bound as Prometheus parses it: +Inf, -Inf, NaN, or the shortest round-trip form.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>A label value escaped for the inside of double quotes.</summary>
    public static string EscapeLabelValue(string value)
    {
        var escaped = new StringBuilder(value.Length);
        AppendEscaped(escaped, value, escapeQuote: true);
        return escaped.ToString();
    }

    // Formats into a stack buffer: a body has thousands of values, and a string each would be garbage at every scrape.
    private void AppendValue(double value)
    {
        Span<char> buffer = stackalloc char[32];
        if (double.IsFinite(value) && value.TryFormat(buffer, out var written, "R", CultureInfo.InvariantCulture))
        {
            output.Append(buffer[..written]);
        }
        else
        {
            output.Append(FormatValue(value));
        }
    }

    private void AppendLabel(bool comma, string name, string value)
    {
        if (comma)
        {
            output.Append(',');
        }

        output.Append(name).Append("=\"");
        AppendEscaped(output, value, escapeQuote: true);
        output.Append('"');
    }

    private static void AppendEscaped(StringBuilder output, string text, bool escapeQuote)
    {
        if (text.AsSpan().IndexOfAny(escapeQuote ? "\\\n\"" : "\\\n") < 0)
        {
            output.Append(text);
            return;
        }

        foreach (var c in text)
        {
            _ = c switch
            {
                '\\' => output.Append("\\\\"),
                '\n' => output.Append("\\n"),
                '"' when escapeQuote => output.Append("\\\""),
                _ => output.Append(c),
            };
        }
    }
}
