using System.Globalization;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Agent.Networking;

/// <summary>What <see cref="BridgeManager.EnsureAsync"/> changed for one network; empty when all was in place.</summary>
public sealed record BridgeReport(NetworkDefinition Network, IReadOnlyList<string> Changes);

/// <summary>
/// The source of truth for this host's network bridges: one Linux bridge per configured network, up, with
/// its uplink (or the uplink's VLAN interface) as a port. libvirt adds one tap per workspace NIC to it.
/// <para>
/// Ensuring is idempotent and only adds: it creates what is missing and changes nothing that is already
/// right. The agent never deletes a bridge, a VLAN interface or a port, not even ones it made: guests keep
/// running across agent restarts and upgrades, their taps stay on the bridge, and removing a network from
/// the configuration must not cut off workspaces still on it. Deleting an unused bridge is left to the operator
/// (<c>ip link del BRIDGE</c>), which <see cref="PortsAsync"/> shows to be safe when it lists no taps.
/// </para>
/// Every problem is reported with the interface, the network and the fix; nothing half-right is enslaved.
/// </summary>
public sealed partial class BridgeManager(NetworkCommands commands, ILogger<BridgeManager> logger)
{
    /// <summary>Ensures every network's bridge; all networks are tried, and all failures reported together.</summary>
    public async Task<IReadOnlyList<BridgeReport>> EnsureAllAsync(IReadOnlyList<NetworkDefinition> networks, CancellationToken cancellationToken)
    {
        var problems = NetworkDefinition.Validate(networks).ToList();
        if (problems.Count > 0)
        {
            throw new NetworkException("invalid networks: " + string.Join("; ", problems));
        }

        var reports = new List<BridgeReport>();
        foreach (var network in networks)
        {
            try
            {
                reports.Add(await EnsureAsync(network, cancellationToken));
            }
            catch (NetworkException e)
            {
                problems.Add(e.Message);
            }
        }

        return problems.Count == 0 ? reports : throw new NetworkException(string.Join("\n", problems));
    }

    /// <summary>Makes the network's bridge exist and be up, with its uplink port enslaved and up.</summary>
    public async Task<BridgeReport> EnsureAsync(NetworkDefinition network, CancellationToken cancellationToken)
    {
        var links = await LinkTable.ReadAsync(commands, cancellationToken);
        var changes = new List<string>();
        var bridge = links.Find(network.Bridge);
        if (bridge is null)
        {
            await RunAsync(network, changes, $"created bridge {network.Bridge}", ["link", "add", network.Bridge.Value, "type", "bridge"], cancellationToken);
            bridge = new LinkState(network.Bridge.Value, "bridge", null, null, null, false, []);
        }
        else if (bridge.Kind != "bridge")
        {
            throw new NetworkException($"network {network.Name}: interface {network.Bridge} exists but is {KindText(bridge)}, not a bridge; " +
                $"choose another bridge name in --network {network}");
        }

        if (network.Uplink is { } uplink)
        {
            await EnsureUplinkAsync(network, uplink, links, changes, cancellationToken);
        }

        if (!bridge.IsUp)
        {
            await RunAsync(network, changes, $"set bridge {network.Bridge} up", ["link", "set", network.Bridge.Value, "up"], cancellationToken);
        }

        return new BridgeReport(network, changes);
    }

    /// <summary>The interfaces on a bridge (uplink port and taps), e.g. to see that a released workspace's tap is gone.</summary>
    public async Task<IReadOnlyList<string>> PortsAsync(InterfaceName bridge, CancellationToken cancellationToken) =>
        (await LinkTable.ReadAsync(commands, cancellationToken)).PortsOf(bridge);

    private async Task EnsureUplinkAsync(NetworkDefinition network, InterfaceName uplink, LinkTable links, List<string> changes, CancellationToken cancellationToken)
    {
        var uplinkState = links.Find(uplink) ?? throw new NetworkException(
            $"network {network.Name}: uplink {uplink} does not exist; check --network {network} (`ip link show` lists this host's interfaces)");
        if (uplinkState.Kind == "bridge")
        {
            throw new NetworkException($"network {network.Name}: uplink {uplink} is itself a bridge; name the interface that leads out (a NIC, bond or VLAN), not a bridge");
        }

        var port = uplinkState;
        if (network.VlanInterface is { } vlanName)
        {
            var vlan = network.Vlan!.Value;
            if (!uplinkState.IsUp)
            {
                await RunAsync(network, changes, $"set uplink {uplink} up", ["link", "set", uplink.Value, "up"], cancellationToken);
            }

            var existing = links.Find(vlanName);
            if (existing is null)
            {
                await CreateVlanAsync(network, uplink, vlanName, vlan, changes, cancellationToken);
                port = new LinkState(vlanName.Value, "vlan", null, uplink.Value, vlan, false, []);
            }
            else if (existing.Kind != "vlan" || existing.Parent != uplink.Value || existing.VlanId != vlan)
            {
                throw new NetworkException($"network {network.Name}: interface {vlanName} exists but is {KindText(existing)}" +
                    $"{(existing.VlanId is { } id ? string.Create(CultureInfo.InvariantCulture, $" with id {id}") : "")}" +
                    $"{(existing.Parent is { } parent ? $" on {parent}" : "")}, not VLAN {vlan.ToString(CultureInfo.InvariantCulture)} on {uplink}; " +
                    $"delete it (ip link del {vlanName}) if nothing needs it, or change vlan= in --network {network}");
            }
            else
            {
                port = existing;
            }
        }

        if (port.Master == network.Bridge.Value)
        {
            // Already a port of this bridge: nothing to do.
        }
        else if (port.Master is { } otherMaster)
        {
            throw new NetworkException($"network {network.Name}: {port.Name} is already a port of {otherMaster}; " +
                $"release it (ip link set {port.Name} nomaster) or choose another uplink in --network {network}");
        }
        else if (port.Addresses.Count > 0)
        {
            throw new NetworkException($"network {network.Name}: {port.Name} has addresses ({string.Join(", ", port.Addresses)}) " +
                $"that would stop working once it is a port of bridge {network.Bridge}; move them to the bridge first, " +
                "or choose an uplink without addresses");
        }
        else
        {
            await RunAsync(network, changes, $"added {port.Name} to bridge {network.Bridge}", ["link", "set", port.Name, "master", network.Bridge.Value], cancellationToken);
        }

        if (!port.IsUp)
        {
            await RunAsync(network, changes, $"set {port.Name} up", ["link", "set", port.Name, "up"], cancellationToken);
        }
    }

    private async Task CreateVlanAsync(NetworkDefinition network, InterfaceName uplink, InterfaceName vlanName, int vlan, List<string> changes, CancellationToken cancellationToken)
    {
        var id = vlan.ToString(CultureInfo.InvariantCulture);
        try
        {
            await RunAsync(network, changes, $"created VLAN interface {vlanName} (id {id} on {uplink})",
                ["link", "add", "link", uplink.Value, "name", vlanName.Value, "type", "vlan", "id", id], cancellationToken);
        }
        catch (NetworkException e) when (e.InnerException?.Message.Contains("Unknown device type", StringComparison.Ordinal) == true)
        {
            throw new NetworkException($"network {network.Name}: this kernel cannot make VLAN interfaces (needed for vlan={id}); " +
                "load the 8021q module (modprobe 8021q, and list it in /etc/modules-load.d/) and restart nodeagent", e);
        }
    }

    private async Task RunAsync(NetworkDefinition network, List<string> changes, string change, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        try
        {
            await commands.RunCheckedAsync("ip", arguments, cancellationToken);
        }
        catch (CommandException e)
        {
            throw new NetworkException($"network {network.Name}: could not do '{change}': {e.Message}", e);
        }

        changes.Add(change);
        LogChanged(logger, network.Name.Value, change);
    }

    private static string KindText(LinkState link) => link.Kind.Length == 0 ? "a network device" : $"a {link.Kind} interface";

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Network {Network}: {Change}")]
    private static partial void LogChanged(ILogger logger, string network, string change);
}
