using System.Diagnostics;
using System.Globalization;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>
/// The real daemons as processes, the way systemd starts them: the scheduler on free loopback ports with its database
/// in the test's directory, and the agent on libvirt's in-process test driver (no libvirtd, no guests). The
/// environment carries what systemd would set ($NOTIFY_SOCKET, $WATCHDOG_USEC).
/// </summary>
internal static class ServiceProcesses
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <param name="arguments">Added to the command line; without a --config of their own, --config none keeps a host's /etc out of the test.</param>
    public static ChildProcess StartScheduler(string directory, IDictionary<string, string>? environment, params string[] arguments) =>
        ChildProcess.Start(Repository.ProgramPath("scheduler/NodeAgent.Scheduler", "nodeagent-scheduler"),
            ["--listen", "http://127.0.0.1:0", "--auth", "none", "--image-listen", "none", "--database", Path.Combine(directory, "scheduler.db"), .. WithConfig(arguments)],
            environment);

    /// <summary>The address the scheduler's gRPC listener bound, from its start-up line.</summary>
    public static async Task<Uri> AddressOfAsync(ChildProcess scheduler) =>
        new((await scheduler.WaitForLineAsync("nodeagent-scheduler listening on", StartTimeout)).Split(' ')[^1]);

    public static ChildProcess StartAgent(Uri scheduler, string directory, string hostId, IDictionary<string, string>? environment, params string[] arguments) =>
        ChildProcess.Start(Repository.ProgramPath("agent/NodeAgent.Agent", "nodeagent"),
            ["--scheduler", scheduler.ToString(), "--state-directory", Path.Combine(directory, "agent"), "--host-id", hostId, "--metrics-listen", "none",
             "--libvirt-uri", "test:///default", .. WithConfig(arguments)],
            environment);

    /// <summary>Sends a signal (e.g. "HUP") without waiting for anything.</summary>
    public static async Task SignalAsync(ChildProcess process, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>A free address nothing listens on: the port of a listener opened and closed again.</summary>
    public static Uri UnreachableScheduler()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}");
    }

    private static string[] WithConfig(string[] arguments) => arguments.Contains("--config") ? arguments : [.. arguments, "--config", "none"];
}
