namespace NodeAgent.Cli;

/// <summary>
/// Where ws finds its token: the --token-file flag, else $NODEAGENT_TOKEN (the token itself), else
/// ~/.config/nodeagent/token (or $XDG_CONFIG_HOME/nodeagent/token) when it exists. No token: calls go without one,
/// which a scheduler run with --auth none accepts.
/// </summary>
public static class TokenSource
{
    public const string EnvironmentVariable = "NODEAGENT_TOKEN";

    /// <summary>The token and where it came from, or (null, why there is none).</summary>
    public static (string? Token, string Source) Resolve(string? flag, Func<string, string?> environment)
    {
        if (!string.IsNullOrWhiteSpace(flag))
        {
            return (Read(flag), flag);
        }

        if (environment(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return (Checked(fromEnvironment.Trim(), "$" + EnvironmentVariable), "$" + EnvironmentVariable);
        }

        var file = DefaultFile(environment);
        return file is not null && File.Exists(file)
            ? (Read(file), file)
            : (null, $"no token: none of --token-file, ${EnvironmentVariable} or {file ?? "~/.config/nodeagent/token"} gave one");
    }

    public static string? DefaultFile(Func<string, string?> environment) =>
        SchedulerEndpoint.ConfigFile(environment) is { } conf ? Path.Combine(Path.GetDirectoryName(conf)!, "token") : null;

    /// <summary>A token is one word of printable ASCII (nat_…); anything else would not even make a valid header.</summary>
    private static string Checked(string token, string source) =>
        token.All(c => c is > ' ' and <= '~')
            ? token
            : throw new UsageException($"the token from {source} is not one token: it holds spaces, line breaks or other characters no token has; " +
                "it should be the single line `ws admin token create` printed (nat_…)");

    private static string Read(string path)
    {
        try
        {
            var token = File.ReadAllText(path).Trim();
            return token.Length > 0 ? Checked(token, path) : throw new UsageException($"the token file {path} is empty; write the token an admin gave you into it");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the token file {path}: {e.Message}");
        }
    }
}
