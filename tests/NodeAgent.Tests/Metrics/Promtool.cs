using System.Diagnostics;

namespace NodeAgent.Tests.Metrics;

/// <summary>Runs Debian's <c>promtool check metrics</c> (package prometheus, from tests/setup/install-deps.sh) on a body.</summary>
internal static class Promtool
{
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string body)
    {
        var start = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start; run tests/setup/install-deps.sh");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(body);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, $"promtool exited {process.ExitCode}: {await stdout}{await stderr}\n--- body ---\n{body}");
    }
}
