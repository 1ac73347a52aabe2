using System.Globalization;

namespace NodeAgent.Agent.HostFacts;

/// <summary>Reads the few /proc files the agent needs. The root is configurable so tests can supply their own.</summary>
public sealed class ProcFileSystem(string root)
{
    /// <summary>Busy and total jiffies of all CPUs, from the first line of /proc/stat.</summary>
    public (ulong Busy, ulong Total) CpuTimes()
    {
        using var reader = new StreamReader(Path.Combine(root, "stat"));
        var line = reader.ReadLine() ?? throw new InvalidDataException($"{root}/stat is empty");
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5 || fields[0] != "cpu")
        {
            throw new InvalidDataException($"{root}/stat does not start with the aggregate cpu line: '{line}'");
        }

        ulong total = 0;
        ulong idle = 0;
        // user nice system idle iowait irq softirq steal; guest time is already inside user and nice.
        for (var i = 1; i < Math.Min(fields.Length, 9); i++)
        {
            var value = ulong.Parse(fields[i], CultureInfo.InvariantCulture);
            total += value;
            if (i is 4 or 5)
            {
                idle += value;
            }
        }

        return (total - idle, total);
    }

    /// <summary>A field of /proc/meminfo in bytes, e.g. "MemTotal" or "MemAvailable".</summary>
    public long MemInfoBytes(string field)
    {
        foreach (var line in File.ReadLines(Path.Combine(root, "meminfo")))
        {
            if (line.StartsWith(field, StringComparison.Ordinal) && line.Length > field.Length && line[field.Length] == ':')
            {
                var parts = line[(field.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var value = long.Parse(parts[0], CultureInfo.InvariantCulture);
                return parts.Length > 1 && parts[1] == "kB" ? value * 1024 : value;
            }
        }

        throw new InvalidDataException($"{root}/meminfo has no {field} line");
    }

    public double LoadAverage1m()
    {
        var text = File.ReadAllText(Path.Combine(root, "loadavg"));
        return double.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
    }
}
