using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace NodeAgent.Service;

/// <summary>The least severe level logged, changed at run time by a reload (--log-level).</summary>
public sealed class LogLevelSwitch(LogLevel minimum)
{
    private volatile int _minimum = (int)minimum;

    public LogLevel Minimum
    {
        get => (LogLevel)_minimum;
        set => _minimum = (int)value;
    }
}

/// <summary>Sets a daemon's logging up for where it runs (--log-format, --log-level).</summary>
public static class ServiceLogging
{
    /// <summary>
    /// Replaces the default providers with the one <paramref name="format"/> asks for, filtered by
    /// <paramref name="levels"/> (so a reload can change the level).
    /// </summary>
    public static void Configure(ILoggingBuilder logging, LogFormat format, LogLevelSwitch levels, string identifier)
    {
        ArgumentNullException.ThrowIfNull(logging);
        ArgumentNullException.ThrowIfNull(levels);
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFilter((_, category, level) => Logs(category, level, levels.Minimum));
        switch (Resolve(format, Environment.GetEnvironmentVariable("JOURNAL_STREAM"), StandardErrorLink(), File.Exists(JournalLoggerProvider.DefaultSocket)))
        {
            case LogFormat.Journal:
                logging.AddProvider(new JournalLoggerProvider(identifier));
                break;
            case LogFormat.Systemd:
                logging.AddSystemdConsole(options => options.IncludeScopes = false);
                logging.Services.Configure<ConsoleLoggerOptions>(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
                break;
            default:
                logging.AddSimpleConsole();
                break;
        }
    }

    /// <summary>
    /// Whether a message is logged at <paramref name="minimum"/>: the daemon's own at that level and above; the
    /// framework's (categories Microsoft.* and System.*, e.g. a "Request finished" line for every call) from Warning
    /// on, unless the level is Debug or Trace. Two lines of the framework's for every heartbeat of every host is
    /// noise in the journal and a real cost at thousands of calls a second.
    /// </summary>
    public static bool Logs(string? category, LogLevel level, LogLevel minimum) =>
        level >= minimum && (minimum <= LogLevel.Debug || level >= LogLevel.Warning || !IsFramework(category));

    private static bool IsFramework(string? category) =>
        category is not null && (category.StartsWith("Microsoft.", StringComparison.Ordinal) || category.StartsWith("System.", StringComparison.Ordinal));

    /// <summary>
    /// What Auto means here: under systemd (stderr is the stream $JOURNAL_STREAM names) the journal when its
    /// socket is there, else the systemd console format; anywhere else (a terminal, a pipe, a test) the console.
    /// </summary>
    public static LogFormat Resolve(LogFormat format, string? journalStream, string? standardErrorLink, bool journalSocketExists) => format switch
    {
        LogFormat.Auto when IsJournalStream(journalStream, standardErrorLink) => journalSocketExists ? LogFormat.Journal : LogFormat.Systemd,
        LogFormat.Auto => LogFormat.Console,
        _ => format,
    };

    /// <summary>
    /// True when $JOURNAL_STREAM (DEVICE:INODE of the journal's stream socket) is the socket stderr is: a process
    /// that inherited the variable but writes to a pipe or a terminal (a child whose output a test reads) is not
    /// under the journal. The inode is read from /proc/self/fd/2, which names a socket "socket:[INODE]".
    /// </summary>
    public static bool IsJournalStream(string? journalStream, string? standardErrorLink)
    {
        var colon = journalStream?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon > 0 && standardErrorLink is not null && standardErrorLink == $"socket:[{journalStream![(colon + 1)..]}]";
    }

    private static string? StandardErrorLink()
    {
        try
        {
            return new FileInfo("/proc/self/fd/2").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
