using System.CommandLine;
using System.CommandLine.Help;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>Where log entries go (--log-format).</summary>
public enum LogFormat
{
    /// <summary>Under systemd (JOURNAL_STREAM set): the journal's native protocol when its socket is there, else <see cref="Systemd"/>; otherwise <see cref="Console"/>.</summary>
    Auto,

    /// <summary>Entries with structured fields to the journal's socket; an entry that cannot be sent goes to stderr as with <see cref="Systemd"/>.</summary>
    Journal,

    /// <summary>One line per entry on stderr with a syslog priority prefix (&lt;6&gt;), as journald reads a service's output.</summary>
    Systemd,

    /// <summary>The console format for a terminal.</summary>
    Console,
}

/// <summary>The settings every daemon has: its configuration file, how much it logs and where.</summary>
public sealed record ServiceSettings(LogLevel LogLevel, LogFormat LogFormat);

/// <summary>
/// The options both daemons share: --config, --log-level and --log-format. Added to each daemon's root command,
/// so they appear in its --help and (but --config) may be set in its configuration file.
/// </summary>
public sealed class ServiceOptions
{
    public ServiceOptions(string program, string defaultConfigPath)
    {
        Program = program;
        DefaultConfigPath = defaultConfigPath;
        Config = new Option<string?>("--config")
        {
            HelpName = "FILE",
            Description = $"Read options from FILE: one `key = value` per line, the key being a long option without its dashes; # starts a comment line; "
                + $"a repeatable option repeats its key. Options on the command line replace the file's. Default: {defaultConfigPath} when it exists; "
                + $"`{DaemonConfiguration.NoFile}` reads no file. SIGHUP (systemctl reload) reads it again (docs/service.md).",
        };
        LogLevel = new Option<LogLevel>("--log-level")
        {
            Description = "The least severe log entries written: Trace, Debug, Information, Warning, Error or Critical.",
            DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Information,
        };
        LogFormat = new Option<LogFormat>("--log-format")
        {
            Description = "Where log entries go: Auto (under systemd, the journal with structured fields such as WORKSPACE_ID; else the console), "
                + "Journal (the journal's native protocol), Systemd (stderr lines with <N> priority prefixes, as journald reads them), or Console.",
            DefaultValueFactory = _ => Service.LogFormat.Auto,
        };
    }

    /// <summary>The daemon's name, e.g. "nodeagent": the journal's SYSLOG_IDENTIFIER and the start of its messages.</summary>
    public string Program { get; }

    /// <summary>The file read when --config is not given and it exists.</summary>
    public string DefaultConfigPath { get; }

    public Option<string?> Config { get; }

    public Option<LogLevel> LogLevel { get; }

    public Option<LogFormat> LogFormat { get; }

    /// <summary>Adds the three options to <paramref name="root"/>.</summary>
    public void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Options.Add(Config);
        root.Options.Add(LogLevel);
        root.Options.Add(LogFormat);
    }

    /// <summary>The log settings as configured; a level of None is a problem (a daemon that logs nothing cannot say why it failed).</summary>
    public ServiceSettings Bind(DaemonConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var level = configuration.Get(LogLevel);
        if (level == Microsoft.Extensions.Logging.LogLevel.None)
        {
            configuration.AddProblem(LogLevel, "log-level: None would hide every error; give Critical at most");
            level = Microsoft.Extensions.Logging.LogLevel.Information;
        }

        return new ServiceSettings(level, configuration.Get(LogFormat));
    }

    /// <summary>Loads the configuration (file and command line) for <paramref name="arguments"/>.</summary>
    public DaemonConfiguration Load(RootCommand root, IReadOnlyList<string> arguments) => DaemonConfiguration.Load(root, Config, DefaultConfigPath, arguments);

    /// <summary>
    /// Runs a daemon: --help and --version as the command line library does them; otherwise loads the configuration
    /// and hands it to <paramref name="run"/>, which binds it, reports every problem (exit 2) or runs the daemon.
    /// </summary>
    public async Task<int> RunAsync(RootCommand root, IReadOnlyList<string> arguments, Func<DaemonConfiguration, Task<int>> run)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(run);
        var commandLine = root.Parse(arguments);
        if (root.Options.Any(o => o is HelpOption or VersionOption && commandLine.GetResult(o) is { Implicit: false }))
        {
            return await commandLine.InvokeAsync();
        }

        return await run(Load(root, arguments));
    }

    /// <summary>Writes every problem to stderr, the way both daemons report a configuration they refuse; returns the exit code 2.</summary>
    public async Task<int> RefuseAsync(IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var count = problems.Count == 1 ? "1 problem" : $"{problems.Count} problems";
        await System.Console.Error.WriteLineAsync($"{Program}: invalid configuration ({count}):\n  " + string.Join("\n  ", problems));
        return 2;
    }
}
