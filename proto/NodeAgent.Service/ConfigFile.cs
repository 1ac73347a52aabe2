using System.Globalization;

namespace NodeAgent.Service;

/// <summary>One <c>key = value</c> line of a configuration file, and where it was written.</summary>
/// <param name="Key">A long option's name without its dashes, e.g. <c>heartbeat-interval</c>.</param>
/// <param name="Value">Everything after the first '=', without surrounding white space (quotes are kept as written).</param>
public sealed record ConfigEntry(string Key, string Value, string Path, int Line)
{
    /// <summary>FILE:LINE, the way messages name the line.</summary>
    public string Where => Path + ":" + Line.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A configuration file as read: its entries in file order, and what is wrong with its lines (each message starts with FILE:LINE).</summary>
public sealed record ConfigFileContents(string Path, IReadOnlyList<ConfigEntry> Entries, IReadOnlyList<string> Problems);

/// <summary>
/// Reads the daemons' configuration files: one <c>key = value</c> per line, where the key is a long option's name
/// without its dashes; lines starting with '#' and blank lines are ignored; a repeatable option repeats its key.
/// Which keys exist and what their values mean is the command line's business (<see cref="DaemonConfiguration"/>):
/// the file is only another way of writing options.
/// </summary>
public static class ConfigFile
{
    /// <summary>Reads <paramref name="path"/>; a file that cannot be read is one problem, not an exception.</summary>
    public static ConfigFileContents Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ConfigFileContents(path, [], [$"{path}: cannot be read ({e.Message}); check that it exists and that the service's user may read it"]);
        }

        return Parse(path, text);
    }

    /// <summary>Splits <paramref name="text"/> into entries; every malformed line is reported, none stops the reading.</summary>
    public static ConfigFileContents Parse(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<ConfigEntry>();
        var problems = new List<string>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var where = path + ":" + (i + 1).ToString(CultureInfo.InvariantCulture);
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                problems.Add($"{where}: '{Shorten(line)}' is not `key = value`; write e.g. `stop-timeout = 00:01:00`, or start the line with # to make it a comment");
                continue;
            }

            var key = line[..equals].Trim();
            var value = line[(equals + 1)..].Trim();
            if (key.Length == 0)
            {
                problems.Add($"{where}: '{Shorten(line)}' has no key before '='; write the option's name without its dashes, e.g. `stop-timeout = 00:01:00`");
            }
            else if (key.StartsWith('-'))
            {
                problems.Add($"{where}: write the key without dashes: `{key.TrimStart('-')} = {Shorten(value)}`");
            }
            else
            {
                entries.Add(new ConfigEntry(key, value, path, i + 1));
            }
        }

        return new ConfigFileContents(path, entries, problems);
    }

    /// <summary>A line as a message may quote it: at most 60 characters, control characters shown as '?'.</summary>
    internal static string Shorten(string text)
    {
        var printable = string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));
        return printable.Length <= 60 ? printable : printable[..57] + "...";
    }
}
