using System.CommandLine;
using System.CommandLine.Help;

namespace NodeAgent.Service;

/// <summary>
/// A daemon's configuration as given: its configuration file's entries put in front of the command line as
/// <c>--key=value</c> tokens and parsed by the daemon's own <see cref="RootCommand"/>, so the file accepts exactly
/// the long options and parses their values exactly as the command line does. A key given on the command line
/// replaces the file's value (or values, for a repeatable option) of that key: the command line wins.
/// Every problem is collected, none stops the reading: malformed lines, unknown keys, values that do not parse, and
/// (through <see cref="Parse{T}"/> and <see cref="AddValidationProblems"/>) what the daemon's binding and
/// validation find. Problems with a value from the file start with its FILE:LINE.
/// </summary>
public sealed class DaemonConfiguration
{
    /// <summary>The <c>--config</c> value that reads no file, not even the default one.</summary>
    public const string NoFile = "none";

    private readonly RootCommand _root;
    private readonly Option<string?> _config;
    private readonly string _defaultPath;
    private readonly Dictionary<string, Option> _options;
    private readonly Dictionary<string, List<ConfigEntry>> _fromFile = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failedKeys = new(StringComparer.Ordinal);
    private readonly List<string> _problems = [];
    private readonly List<string> _overridden = [];

    private DaemonConfiguration(RootCommand root, Option<string?> config, string defaultPath, IReadOnlyList<string> arguments)
    {
        _root = root;
        _config = config;
        _defaultPath = defaultPath;
        Arguments = arguments;
        _options = ConfigurableOptions(root, config).ToDictionary(KeyOf, o => o, StringComparer.Ordinal);
        Result = root.Parse(arguments);
    }

    /// <summary>The command line as given (without the file's tokens).</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>The file read, or null when none was (no --config and no default file, or --config none).</summary>
    public string? FilePath { get; private set; }

    /// <summary>The file's entries and the command line, parsed together.</summary>
    public ParseResult Result { get; private set; }

    /// <summary>Keys given on the command line; the file's values of these keys are ignored.</summary>
    public IReadOnlySet<string> CommandLineKeys { get; private set; } = new HashSet<string>();

    /// <summary>For the start-up line: which file was read and which of its keys the command line overrides; null without a file.</summary>
    public string? Summary => FilePath is null ? null
        : "configuration from " + FilePath + (_overridden.Count > 0 ? $" (the command line overrides its {string.Join(", ", _overridden)})" : string.Empty);

    /// <summary>Keys the file sets but the command line gives too, so the file's values are ignored; for a log line that says so.</summary>
    public IReadOnlyList<string> OverriddenKeys => _overridden;

    /// <summary>
    /// Every problem found so far: those of the file's lines in line order first (malformed lines, unknown keys,
    /// values), then the others (the command line's, and settings left at their defaults) in the order found.
    /// </summary>
    public IReadOnlyList<string> Problems => [.. _problems.Select((p, i) => (p, i)).OrderBy(p => LineOf(p.p)).ThenBy(p => p.i).Select(p => p.p)];

    /// <summary>An option's key in a configuration file: its name without the leading dashes.</summary>
    public static string KeyOf(Option option) => option?.Name.TrimStart('-') ?? throw new ArgumentNullException(nameof(option));

    /// <summary>The options a configuration file may set: all of the command's but --help, --version and --config itself.</summary>
    public static IEnumerable<Option> ConfigurableOptions(RootCommand root, Option config) =>
        root?.Options.Where(o => o is not HelpOption and not VersionOption && !ReferenceEquals(o, config)) ?? throw new ArgumentNullException(nameof(root));

    /// <summary>Reads the file named by --config (or <paramref name="defaultPath"/> when it exists) and parses it with <paramref name="arguments"/>.</summary>
    public static DaemonConfiguration Load(RootCommand root, Option<string?> config, string defaultPath, IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(config);
        var configuration = new DaemonConfiguration(root, config, defaultPath, arguments);
        configuration.Read();
        return configuration;
    }

    /// <summary>Reads the same file again (SIGHUP) with the same command line.</summary>
    public DaemonConfiguration Reload() => Load(_root, _config, _defaultPath, Arguments);

    /// <summary>The option's value; its default when its value did not parse (that is already a problem).</summary>
    public T? Get<T>(Option<T> option)
    {
        try
        {
            return Result.GetValue(option);
        }
        catch (InvalidOperationException)
        {
            return default;
        }
    }

    /// <summary>
    /// Converts a value the parser took as text (a size, an address); a <see cref="FormatException"/> becomes a
    /// problem of <paramref name="option"/>, with the file line the value came from, and the default is returned.
    /// </summary>
    public T? Parse<T>(Option option, string? text, Func<string, T> parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (text is null)
        {
            return default;
        }

        try
        {
            return parse(text);
        }
        catch (FormatException e)
        {
            AddProblem(option, e.Message, text);
            return default;
        }
    }

    /// <summary>Records a problem with <paramref name="option"/>'s value (of the repeatable option's value <paramref name="value"/>).</summary>
    public void AddProblem(Option option, string problem, string? value = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var key = KeyOf(option);
        _failedKeys.Add(key);
        var text = problem.StartsWith(key, StringComparison.Ordinal) || problem.StartsWith(option.Name, StringComparison.Ordinal) ? problem : key + ": " + problem;
        _problems.Add(Prefixed(Origin(key, value, problem), text));
    }

    /// <summary>
    /// Records the daemon's own validation problems (which begin with the setting's name, e.g. "stop-timeout: …"),
    /// each with the file line its setting came from. A problem of a setting whose value did not even parse is left
    /// out: it was judged on the default, not on what was written.
    /// </summary>
    public void AddValidationProblems(IEnumerable<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        foreach (var problem in problems)
        {
            var key = KeyMentioned(problem);
            if (key is not null && _failedKeys.Contains(key))
            {
                continue;
            }

            _problems.Add(Prefixed(key is null ? null : Origin(key, null, problem), problem));
        }
    }

    /// <summary>
    /// Each key's value as written (the file's or the command line's; values of a repeatable key one per line), or
    /// empty for a key left at its default: what a reload compares to find the keys that changed.
    /// </summary>
    public IReadOnlyDictionary<string, string> EffectiveValues() => _options.ToDictionary(
        o => o.Key,
        o => Result.GetResult(o.Value) is { Implicit: false } given ? string.Join("\n", given.Tokens.Select(t => t.Value)) : string.Empty,
        StringComparer.Ordinal);

    /// <summary>FILE:LINE of the entry that set <paramref name="key"/>; null when the command line or the default set it.</summary>
    public string? Origin(string key, string? value = null, string? mentionedIn = null)
    {
        if (!_fromFile.TryGetValue(key, out var entries) || entries.Count == 0)
        {
            return null;
        }

        var match = entries.FirstOrDefault(e => e.Value == value)
            ?? entries.FirstOrDefault(e => mentionedIn is not null && e.Value.Length > 0 && mentionedIn.Contains(e.Value, StringComparison.Ordinal));
        return match?.Where ?? (entries.Count == 1 ? entries[0].Where : $"{entries[0].Path}:{string.Join(",", entries.Select(e => e.Line))}");
    }

    private void Read()
    {
        foreach (var error in Result.Errors)
        {
            _problems.Add("command line: " + error.Message);
        }

        CommandLineKeys = _options.Where(o => Result.GetResult(o.Value) is { Implicit: false }).Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        var explicitPath = Result.GetResult(_config) is { Implicit: false } ? Result.GetValue(_config) : null;
        if (explicitPath == NoFile)
        {
            return;
        }

        if (explicitPath is not null && !File.Exists(explicitPath))
        {
            _problems.Add($"config: {explicitPath} does not exist; give an existing file, or --config {NoFile} to read none");
            return;
        }

        var path = explicitPath ?? _defaultPath;
        if (!File.Exists(path))
        {
            return;
        }

        FilePath = path;
        var file = ConfigFile.Read(path);
        _problems.AddRange(file.Problems);
        foreach (var entry in file.Entries)
        {
            Take(entry);
        }

        var tokens = _fromFile.Values.SelectMany(e => e).OrderBy(e => e.Line).Select(e => $"--{e.Key}={e.Value}");
        Result = _root.Parse([.. tokens, .. Arguments]);
        if (_problems.Count == 0)
        {
            // Not expected once each part parsed on its own; reported rather than lost if it happens.
            _problems.AddRange(Result.Errors.Select(e => e.Message));
        }
    }

    /// <summary>Checks one entry on its own, so each problem is reported with its line; keeps it unless the command line gives its key.</summary>
    private void Take(ConfigEntry entry)
    {
        if (entry.Key == KeyOf(_config))
        {
            _problems.Add($"{entry.Where}: config cannot be set in a configuration file; give --config on the command line");
            return;
        }

        if (!_options.TryGetValue(entry.Key, out var option))
        {
            var hint = ClosestKey(entry.Key) is { } close ? $"did you mean {close}? " : string.Empty;
            _problems.Add($"{entry.Where}: unknown key '{ConfigFile.Shorten(entry.Key)}'; {hint}the keys are the long options --help lists, without their dashes");
            return;
        }

        if (entry.Value.Length == 0)
        {
            _failedKeys.Add(entry.Key);
            _problems.Add($"{entry.Where}: {entry.Key} has no value; give one, or comment the line out with # to keep the default");
            return;
        }

        if (option.Arity.MaximumNumberOfValues <= 1 && _fromFile.TryGetValue(entry.Key, out var earlier) && earlier.Count > 0)
        {
            _problems.Add($"{entry.Where}: {entry.Key} is already set at {earlier[0].Where} and takes one value; keep one of the two lines");
            return;
        }

        var alone = _root.Parse([$"--{entry.Key}={entry.Value}"]);
        if (alone.Errors.Count > 0)
        {
            _failedKeys.Add(entry.Key);
            _problems.AddRange(alone.Errors.Select(e => $"{entry.Where}: {entry.Key} = {ConfigFile.Shorten(entry.Value)}: {e.Message}{Hint(option)}"));
            return;
        }

        if (!CommandLineKeys.Contains(entry.Key))
        {
            (_fromFile.TryGetValue(entry.Key, out var list) ? list : _fromFile[entry.Key] = []).Add(entry);
        }
        else if (!_overridden.Contains(entry.Key))
        {
            _overridden.Add(entry.Key);
        }
    }

    /// <summary>The key a validation message is about: the longest key it starts with, or that follows its first "…: ".</summary>
    private string? KeyMentioned(string problem)
    {
        var colon = problem.IndexOf(": ", StringComparison.Ordinal);
        foreach (var text in colon > 0 ? [problem, problem[(colon + 2)..]] : new[] { problem })
        {
            var words = text.Replace(' ', '-');
            if (_options.Keys.Where(k => words.StartsWith(k, StringComparison.Ordinal)).MaxBy(k => k.Length) is { } key)
            {
                return key;
            }
        }

        return null;
    }

    private string? ClosestKey(string key) => _options.Keys
        .Select(k => (Key: k, Distance: EditDistance(k, key)))
        .Where(k => k.Distance <= Math.Max(2, key.Length / 4))
        .OrderBy(k => k.Distance).Select(k => k.Key).FirstOrDefault();

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }

    private static string Prefixed(string? origin, string problem) => origin is null ? problem : origin + ": " + problem;

    /// <summary>How to write a value of the option's type, where the parser's own message does not say.</summary>
    private static string Hint(Option option) => (Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType) switch
    {
        var t when t == typeof(TimeSpan) => " Write hh:mm:ss, e.g. 00:00:30.",
        var t when t == typeof(int) => " Write a whole number.",
        var t when t == typeof(double) => " Write a number, e.g. 1.5.",
        _ => string.Empty,
    };

    /// <summary>The file line a problem starts with (FILE:LINE: or FILE:LINE,LINE:), or int.MaxValue for one without.</summary>
    private int LineOf(string problem)
    {
        if (FilePath is null || !problem.StartsWith(FilePath + ":", StringComparison.Ordinal))
        {
            return int.MaxValue;
        }

        var digits = problem.AsSpan(FilePath.Length + 1);
        var length = 0;
        while (length < digits.Length && char.IsAsciiDigit(digits[length]))
        {
            length++;
        }

        return int.TryParse(digits[..length], System.Globalization.CultureInfo.InvariantCulture, out var line) ? line : int.MaxValue;
    }
}
