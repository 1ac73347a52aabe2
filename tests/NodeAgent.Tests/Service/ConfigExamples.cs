using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using NodeAgent.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>The documented example configuration files (agent/nodeagent.conf, scheduler/scheduler.conf) and what the tests read from them.</summary>
internal static partial class ConfigExamples
{
    public static string AgentFile => Path.Combine(Repository.Root, "agent", "nodeagent.conf");

    public static string SchedulerFile => Path.Combine(Repository.Root, "scheduler", "scheduler.conf");

    /// <summary>Every key a line of the file sets, commented out (#key = value) or not.</summary>
    public static IReadOnlyList<string> KeysIn(string text) =>
        [.. text.Split('\n').Select(l => KeyLine().Match(l.Trim())).Where(m => m.Success).Select(m => m.Groups[1].Value)];

    /// <summary>The file with every commented-out setting switched on.</summary>
    public static string Uncommented(string text) =>
        string.Join('\n', text.Split('\n').Select(l => KeyLine().IsMatch(l.Trim()) ? l.Trim().TrimStart('#') : l));

    /// <summary>
    /// The row docs/service.md has for an option: its key, its default, whether a reload applies it, and its --help text
    /// (lines joined, '|' escaped), so the page says exactly what --help says.
    /// </summary>
    public static string DocsRow(Option option, IReadOnlySet<string> reloadable)
    {
        ArgumentNullException.ThrowIfNull(option);
        var key = DaemonConfiguration.KeyOf(option);
        var description = string.Join(' ', (option.Description ?? string.Empty).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
        return $"| `{key}` | {Cell(Default(option))} | {(reloadable.Contains(key) ? "yes" : "restart")} | {Cell(description)} |";
    }

    private static string Cell(string text) => text.Length == 0 ? "–" : text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Default(Option option) => !option.HasDefaultValue ? string.Empty : option.GetDefaultValue() switch
    {
        null => string.Empty,
        string[] values => string.Join(", ", values),
        IFormattable formattable => "`" + formattable.ToString(null, CultureInfo.InvariantCulture) + "`",
        var other => "`" + other + "`",
    };

    [GeneratedRegex(@"^#?([a-z][a-z0-9-]*) = ")]
    private static partial Regex KeyLine();
}
