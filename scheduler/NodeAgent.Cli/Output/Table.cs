using System.Text;

namespace NodeAgent.Cli.Output;

/// <summary>A plain-text table: one header row, columns padded to their widest cell.</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public Table Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"a row needs {headers.Length} cells, got {cells.Length}", nameof(cells));
        }

        _rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var builder = new StringBuilder();
        Append(builder, headers, widths);
        foreach (var row in _rows)
        {
            Append(builder, row, widths);
        }

        return builder.ToString();
    }

    private static void Append(StringBuilder builder, string[] cells, int[] widths)
    {
        for (var i = 0; i < cells.Length; i++)
        {
            builder.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i] + 2));
        }

        builder.Append('\n');
    }
}

/// <summary>Human units for sizes and times.</summary>
public static class Units
{
    public static string Bytes(ulong bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : value.ToString(value >= 100 ? "0" : "0.#", System.Globalization.CultureInfo.InvariantCulture) + " " + units[unit];
    }

    public static string Ago(TimeSpan span) => span.TotalSeconds switch
    {
        < 0 => "just now",
        < 60 => $"{span.TotalSeconds:0}s ago",
        < 3600 => $"{span.TotalMinutes:0}m ago",
        < 86400 => $"{span.TotalHours:0}h ago",
        _ => $"{span.TotalDays:0}d ago",
    };
}
