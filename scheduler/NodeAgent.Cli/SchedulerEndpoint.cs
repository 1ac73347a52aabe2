namespace NodeAgent.Cli;

/// <summary>
/// Where ws finds the scheduler: the --scheduler flag, else $WS_SCHEDULER, else the <c>scheduler =</c>
/// line of ~/.config/nodeagent/ws.conf (or $XDG_CONFIG_HOME/nodeagent/ws.conf), else the local default.
/// </summary>
public static class SchedulerEndpoint
{
    public const string EnvironmentVariable = "WS_SCHEDULER";
    public const string Default = "http://127.0.0.1:7700";

    public static (string Address, string Source) Resolve(string? flag, Func<string, string?> environment)
    {
        if (!string.IsNullOrWhiteSpace(flag))
        {
            return (flag, "--scheduler");
        }

        if (environment(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return (fromEnvironment, "$" + EnvironmentVariable);
        }

        var file = ConfigFile(environment);
        if (file is not null && File.Exists(file))
        {
            foreach (var line in File.ReadLines(file))
            {
                var trimmed = line.Trim();
                if (trimmed.StartsWith('#'))
                {
                    continue;
                }

                var equals = trimmed.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0 && trimmed[..equals].Trim() == "scheduler")
                {
                    return (trimmed[(equals + 1)..].Trim(), file);
                }
            }
        }

        return (Default, "the default");
    }

    public static string? ConfigFile(Func<string, string?> environment)
    {
        var configHome = environment("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(configHome) && environment("HOME") is { Length: > 0 } home)
        {
            configHome = Path.Combine(home, ".config");
        }

        return string.IsNullOrEmpty(configHome) ? null : Path.Combine(configHome, "nodeagent", "ws.conf");
    }
}
