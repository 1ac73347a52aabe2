using System.Text;

namespace NodeAgent.Benchmarks;

/// <summary>
/// Writes a benchmark's result table into docs/benchmarks.md between its own markers, with the command
/// and the machine it ran on, leaving every other benchmark's section as it was.
/// </summary>
public static class BenchmarkReport
{
    public static void Write(string path, string name, string title, string command, string body)
    {
        var begin = $"<!-- bench:{name} -->";
        var end = $"<!-- /bench:{name} -->";
        var section = new StringBuilder()
            .AppendLine(begin)
            .AppendLine($"## {title}")
            .AppendLine()
            .AppendLine($"Command: `{command}`  ")
            .AppendLine($"Measured: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}")
            .AppendLine()
            .Append(body.TrimEnd()).AppendLine()
            .Append(end)
            .ToString();

        var text = File.Exists(path) ? File.ReadAllText(path) : "# NodeAgent benchmarks\n\nEach section is written by the program named in its command; rerun it to refresh the numbers.\n";
        var start = text.IndexOf(begin, StringComparison.Ordinal);
        var stop = text.IndexOf(end, StringComparison.Ordinal);
        text = start >= 0 && stop > start
            ? text[..start] + section + text[(stop + end.Length)..]
            : text.TrimEnd() + "\n\n" + section + "\n";
        File.WriteAllText(path, text);
    }
}
