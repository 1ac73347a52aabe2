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
