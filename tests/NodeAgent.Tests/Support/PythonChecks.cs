using System.Diagnostics;
using System.Text.Json;

namespace NodeAgent.Tests.Support;

/// <summary>
/// One run of a check script of tests/interop (Debian's grpcio against a NodeAgent peer): it prints one JSON object a
/// line, <c>{"check": NAME, "ok": BOOL, "detail": TEXT}</c>, and exits 0 when every check passed.
/// </summary>
public sealed class PythonChecks
{
    public Dictionary<string, (bool Ok, string Detail)> Results { get; } = [];

    public string Output { get; private set; } = string.Empty;

    public int ExitCode { get; private set; } = -1;

    /// <summary>Asserts that the script reported <paramref name="check"/> and that it passed.</summary>
    public void AssertPassed(string check)
    {
        Assert.True(Results.TryGetValue(check, out var result), $"the grpcio client did not report '{check}'. Output:\n{Output}");
        Assert.True(result.Ok, $"{check}: {result.Detail}");
    }

    public static async Task<PythonChecks> RunAsync(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.SystemPython, [Repository.InteropScript(script), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        var run = new PythonChecks { ExitCode = process.ExitCode, Output = await stdout + await stderr };
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            run.Results[root.GetProperty("check").GetString()!] = (root.GetProperty("ok").GetBoolean(), root.GetProperty("detail").GetString() ?? string.Empty);
        }

        return run;
    }
}
