namespace NodeAgent.Cli;

/// <summary>What ws's exit status means; scripts can tell a mistake of theirs from a refusal or an outage.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The scheduler answered with an error (not found, refused, invalid value).</summary>
    public const int ServerError = 1;

    /// <summary>The command line was wrong: unknown option, missing argument, malformed value.</summary>
    public const int UsageError = 2;

    /// <summary>The scheduler could not be reached or did not answer in time.</summary>
    public const int Unavailable = 3;
}
