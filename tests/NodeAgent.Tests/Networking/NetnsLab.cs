using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Networking;
using NodeAgent.Agent.Processes;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Networking;

/// <summary>
/// A private network for one test, made of network namespaces only: a "host" namespace standing in for the
/// agent's host (bridge, taps, nftables), and one namespace per guest or user, joined to the host's bridge by
/// a veth pair whose host end plays the workspace's tap. Both ends of every pair are created directly inside
/// their namespaces, and addresses (10.250.0.0/24) exist only in the guests' and users' namespaces, so no
/// packet and no address ever reaches the machine's own network. IPv6 is off in every namespace, so the
/// kernel's own router solicitations do not add to the drop counters the tests read.
/// Everything is deleted in <see cref="Dispose"/>.
/// </summary>
internal sealed class NetnsLab : IDisposable
{
    public const string Bridge = "nabr0";

    private readonly List<string> _namespaces = [];
    private readonly string _id = Guid.NewGuid().ToString("N")[..8];

    private NetnsLab()
    {
        Host = $"natest-{_id}-host";
    }

    /// <summary>The namespace the agent's code runs against (through <see cref="Commands"/>).</summary>
    public string Host { get; }

    public CommandRunner Runner { get; } = new(NullLogger<CommandRunner>.Instance);

    public NetworkCommands Commands => new(Runner, Host);

    public TempDirectory Scratch { get; } = new();

    /// <summary>A lab with the host namespace only; with <paramref name="bridge"/>, also a bridge in it, up.</summary>
    public static async Task<NetnsLab> CreateAsync(bool bridge = true)
    {
        var lab = new NetnsLab();
        try
        {
            await lab.AddNamespaceAsync(lab.Host);
            if (bridge)
            {
                await lab.InHostAsync("ip", "link", "add", Bridge, "type", "bridge");
                await lab.InHostAsync("ip", "link", "set", Bridge, "up");
            }
        }
        catch
        {
            lab.Dispose();
            throw;
        }

        return lab;
    }

    /// <summary>A guest: its own namespace whose eth0 has this MAC and address, on a veth whose host end <paramref name="tap"/> is a bridge port.</summary>
    public async Task<Peer> AddPeerAsync(string role, string tap, string mac, string address)
    {
        var ns = $"natest-{_id}-{role}";
        await AddNamespaceAsync(ns);
        await RunAsync("ip", "link", "add", tap, "netns", Host, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await InHostAsync("ip", "link", "set", tap, "master", Bridge, "up");
        await InAsync(ns, "ip", "link", "set", "eth0", "address", mac);
        await InAsync(ns, "ip", "address", "add", address + "/24", "dev", "eth0");
        await InAsync(ns, "ip", "link", "set", "eth0", "up");
        await InAsync(ns, "ip", "link", "set", "lo", "up");
        return new Peer(this, ns, tap, mac, address);
    }

    public Task<string> InHostAsync(params string[] command) => InAsync(Host, command);

    public Task<string> InAsync(string ns, params string[] command) =>
        Runner.RunCheckedAsync("ip", ["netns", "exec", ns, .. command], TimeSpan.FromSeconds(30), default);

    public Task<CommandResult> TryInAsync(string ns, params string[] command) =>
        Runner.RunAsync("ip", ["netns", "exec", ns, .. command], TimeSpan.FromSeconds(30), default);

    /// <summary>Waits until <paramref name="condition"/> holds: for effects the kernel applies after a call returns (a frame still in a queue).</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return await condition();
    }

    public void Dispose()
    {
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            // Deleting a namespace destroys its veth ends, so the pairs go with the namespaces.
            using var delete = Process.Start(new ProcessStartInfo("ip", ["netns", "delete", ns]) { RedirectStandardError = true });
            delete?.WaitForExit();
        }

        Scratch.Dispose();
    }

    private async Task AddNamespaceAsync(string ns)
    {
        await RunAsync("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        await InAsync(ns, Repository.SystemPython, "-c",
            "for f in ('all', 'default'): open(f'/proc/sys/net/ipv6/conf/{f}/disable_ipv6', 'w').write('1')");
    }

    private Task<string> RunAsync(string program, params string[] arguments) =>
        Runner.RunCheckedAsync(program, arguments, TimeSpan.FromSeconds(30), default);

    /// <summary>One namespace on the lab's bridge: a guest (whose veth host end is its tap) or a user.</summary>
    internal sealed record Peer(NetnsLab Lab, string Namespace, string Tap, string Mac, string Address)
    {
        public NicRule Rule => new(InterfaceName.Parse(Tap), MacAddress.Parse(Mac), Ipv4Address.Parse(Address));

        /// <summary>
        /// Three echo requests 0.2 s apart, each given a second: true when any answer came. Three, so a busy
        /// machine does not fail a ping that should pass; a dropped one gets no answer however many are sent.
        /// </summary>
        public async Task<bool> PingAsync(Peer target, string? from = null)
        {
            string[] source = from is null ? [] : ["-I", from];
            var result = await Lab.TryInAsync(Namespace, ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", .. source, target.Address]);
            return result.ExitCode == 0;
        }

        /// <summary>Sends one raw Ethernet frame out of eth0, bypassing the guest's IP stack.</summary>
        public Task SendFrameAsync(byte[] frame) => Lab.InAsync(Namespace, Repository.SystemPython, "-c",
            "import socket, sys\n" +
            "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n" +
            "s.bind(('eth0', 0))\n" +
            "s.send(bytes.fromhex(sys.argv[1]))\n",
            Convert.ToHexString(frame));

        /// <summary>The MAC this namespace has for <paramref name="address"/>, or null.</summary>
        public async Task<string?> NeighborMacAsync(string address)
        {
            var json = await Lab.InAsync(Namespace, "ip", "-json", "neigh", "show", address);
            using var document = JsonDocument.Parse(json);
            return document.RootElement.EnumerateArray()
                .Select(n => n.TryGetProperty("lladdr", out var mac) ? mac.GetString() : null)
                .FirstOrDefault(mac => mac is not null);
        }
    }
}
