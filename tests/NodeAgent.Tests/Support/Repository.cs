using System.Diagnostics;

namespace NodeAgent.Tests.Support;

/// <summary>Paths of the repository the tests run from, and the peers Debian provides.</summary>
internal static class Repository
{
    /// <summary>Debian's interpreter: python3-grpcio and python3-protobuf are installed for it, not for others on PATH.</summary>
    public const string SystemPython = "/usr/bin/python3";

    public static string Root { get; } = FindRoot();

    public static string InteropScript(string name) => Path.Combine(Root, "tests", "interop", name);

    /// <summary>Fails (never skips) when the Python gRPC peer is missing: `make test` installs it.</summary>
    public static void RequirePythonGrpc()
    {
        using var check = Process.Start(new ProcessStartInfo(SystemPython, ["-c", "import grpc, google.protobuf"]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException($"cannot start {SystemPython}");
        check.WaitForExit();
        if (check.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{SystemPython} cannot import grpc: {check.StandardError.ReadToEnd().Trim()}. Run `make test` (it installs python3-grpcio, python3-protobuf, protobuf-compiler and libprotobuf-dev) or apt-get install them.");
        }
    }

    /// <summary>A program built next to this test run (same configuration), e.g. "nodeagent-scheduler".</summary>
    public static string ProgramPath(string project, string name)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(Root, project, "bin", configuration, "net9.0", name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; run `make build` (or `dotnet build NodeAgent.sln`)");
    }

    /// <summary>Runs a repository script to completion and returns its last line of output.</summary>
    public static async Task<string> RunScriptAsync(string relativePath, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(Root, relativePath), arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{relativePath} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }

        return (await stdout).TrimEnd().Split('\n')[^1];
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NodeAgent.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"NodeAgent.sln not found above {AppContext.BaseDirectory}");
    }
}
