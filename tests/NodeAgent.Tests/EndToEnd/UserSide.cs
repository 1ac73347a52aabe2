using NodeAgent.Agent.Processes;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// The user's side of a workspace network: a network namespace of the test's own, joined to a bridge by a
/// veth pair, holding the only address outside the guests. The bridge carries no address of the root
/// namespace, so every packet stays between this namespace and the guests (PLATFORM.md's traffic rule).
/// </summary>
internal sealed class UserSide : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private readonly CommandRunner _runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);
    private readonly List<Func<Task>> _cleanups = [];

    private UserSide(string name) => Namespace = name;

    public string Namespace { get; }

    /// <summary>Makes the namespace with <paramref name="addressWithPrefix"/> and joins it to <paramref name="bridge"/>, creating the bridge unless it exists.</summary>
    public static async Task<UserSide> JoinAsync(string bridge, string addressWithPrefix, bool createBridge)
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var side = new UserSide("natestns" + suffix);
        // Not "na…" or "nh…": on a NodeAgent bridge those names are workspace taps, and a tap without rules is cut off.
        var veth = "usrv" + suffix;
        try
        {
            if (createBridge)
            {
                await side.IpAsync("link", "add", bridge, "type", "bridge");
                side._cleanups.Add(() => side._runner.RunAsync("ip", ["link", "del", bridge], CommandTimeout, default));
                await side.IpAsync("link", "set", bridge, "up");
            }

            await side.IpAsync("netns", "add", side.Namespace);
            side._cleanups.Add(() => side._runner.RunAsync("ip", ["netns", "del", side.Namespace], CommandTimeout, default));
            await side.IpAsync("link", "add", veth, "type", "veth", "peer", "name", "peer0", "netns", side.Namespace);
            side._cleanups.Add(() => side._runner.RunAsync("ip", ["link", "del", veth], CommandTimeout, default));
            await side.IpAsync("link", "set", veth, "master", bridge, "up");
            await side.IpAsync("-n", side.Namespace, "addr", "add", addressWithPrefix, "dev", "peer0");
            await side.IpAsync("-n", side.Namespace, "link", "set", "peer0", "up");
            return side;
        }
        catch
        {
            await side.DisposeAsync();
            throw;
        }
    }

    /// <summary>A few pings: the first may go while the bridge port is still learning, or the guest still booting.</summary>
    public async Task<bool> PingAsync(string address, int attempts = 10)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var ping = await _runner.RunAsync("ip", ["netns", "exec", Namespace, "ping", "-c", "1", "-W", "2", address], CommandTimeout, default);
            if (ping.ExitCode == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first line a TCP connection to the address's port 22 gets (the test guest's SSH stand-in).</summary>
    public async Task<string> BannerAsync(string address)
    {
        var banner = await _runner.RunAsync("ip", ["netns", "exec", Namespace, "busybox", "nc", "-w", "10", address, "22"], CommandTimeout, default);
        return banner.StandardOutput.Trim();
    }

    public Task<string> RunAsync(string program, params string[] arguments) => _runner.RunCheckedAsync(program, arguments, CommandTimeout, default);

    public async ValueTask DisposeAsync()
    {
        for (var i = _cleanups.Count - 1; i >= 0; i--)
        {
            await _cleanups[i]();
        }
    }

    private Task<string> IpAsync(params string[] arguments) => _runner.RunCheckedAsync("ip", arguments, CommandTimeout, default);
}
