using System.Diagnostics;

namespace NodeAgent.Tests.Support;

/// <summary>What one run of the ws program gave: its exit code and what it printed.</summary>
internal sealed record WsRun(int Code, string Stdout, string Stderr);

/// <summary>The ws program, run as a user runs it against a scheduler ($WS_SCHEDULER, $USER).</summary>
internal static class WsProgram
{
    public static async Task<WsRun> RunAsync(Uri scheduler, string user, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["WS_SCHEDULER"] = scheduler.ToString();
        start.Environment["USER"] = user;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new WsRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The cells of the table row whose first cell is <paramref name="first"/> (cells are two or more spaces apart).</summary>
    public static string[] Row(string stdout, string first) =>
        stdout.Split('\n').Single(l => l.StartsWith(first + " ", StringComparison.Ordinal)).Split("  ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
