using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// One network this host offers (<c>--network NAME=BRIDGE[,uplink=IFACE][,vlan=ID]</c>): workspaces on it
/// get a tap on <see cref="Bridge"/>; the bridge reaches the outside through <see cref="Uplink"/>, tagged
/// with <see cref="Vlan"/> when one is given. Without an uplink the bridge connects only this host's guests.
/// </summary>
public sealed record NetworkDefinition(NetworkName Name, InterfaceName Bridge, InterfaceName? Uplink = null, int? Vlan = null)
{
    public const string Syntax = "NAME=BRIDGE[,uplink=IFACE][,vlan=ID]";

    /// <summary>
    /// The VLAN interface enslaved to the bridge: UPLINK.VLAN as is usual, or, when that exceeds Linux's
    /// 15 characters, vlVLAN-BRIDGE cut to 15 (bridges are unique per host, and <see cref="Validate"/>
    /// rejects two networks whose names would still collide). Null without a VLAN.
    /// </summary>
    public InterfaceName? VlanInterface
    {
        get
        {
            if (Uplink is not { } uplink || Vlan is not { } vlan)
            {
                return null;
            }

            var usual = string.Create(CultureInfo.InvariantCulture, $"{uplink}.{vlan}");
            if (usual.Length > InterfaceName.MaxLength)
            {
                usual = string.Create(CultureInfo.InvariantCulture, $"vl{vlan}-{Bridge}");
                usual = usual[..Math.Min(usual.Length, InterfaceName.MaxLength)];
            }

            return InterfaceName.TryParse(usual, out var name, out _) ? name : null;
        }
    }

    /// <summary>The interface that becomes the bridge's port to the outside: the VLAN interface or the uplink.</summary>
    public InterfaceName? UplinkPort => VlanInterface ?? Uplink;

    /// <summary>
    /// The host's network named <paramref name="network"/> (a workspace NIC's network), whose bridge the NIC's
    /// tap goes on; throws with the networks this host offers when there is none of that name.
    /// </summary>
    public static NetworkDefinition Find(IReadOnlyList<NetworkDefinition> hostNetworks, string network)
    {
        var found = NetworkName.TryParse(network, out var name, out _) ? hostNetworks.FirstOrDefault(n => n.Name == name) : null;
        var offered = hostNetworks.Count == 0 ? "none; start nodeagent with --network" : string.Join(", ", hostNetworks.Select(n => n.Name.Value));
        return found ?? throw new NetworkException($"this host has no network '{IdSyntax.Printable(network)}' (it offers: {offered})");
    }

    /// <summary>Parses one --network value, reporting every problem in it, not only the first.</summary>
    public static bool TryParse(string? text, out NetworkDefinition? definition, out IReadOnlyList<string> problems)
    {
        definition = null;
        var found = new List<string>();
        problems = found;
        var shown = IdSyntax.Printable(text ?? "");
        var equals = text?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (text is null || equals < 0)
        {
            found.Add($"network '{shown}': expected {Syntax}, e.g. default=nabr0,uplink=eth1,vlan=100");
            return false;
        }

        var fields = text[(equals + 1)..].Split(',');
        if (!NetworkName.TryParse(text[..equals], out var name, out var problem))
        {
            found.Add($"network '{shown}': name {problem}");
        }

        if (!InterfaceName.TryParse(fields[0], out var bridge, out problem))
        {
            found.Add($"network '{shown}': bridge {problem}");
        }

        InterfaceName? uplink = null;
        int? vlan = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in fields.Skip(1))
        {
            var pair = field.Split('=', 2);
            var key = pair[0];
            if (pair.Length != 2 || !seen.Add(key))
            {
                found.Add($"network '{shown}': '{IdSyntax.Printable(field)}' is not a single key=value; expected {Syntax}");
                continue;
            }

            switch (key)
            {
                case "uplink" when InterfaceName.TryParse(pair[1], out var parsed, out problem):
                    uplink = parsed;
                    break;
                case "uplink":
                    found.Add($"network '{shown}': uplink {problem}");
                    break;
                case "vlan" when int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id):
                    vlan = id;
                    break;
                case "vlan":
                    found.Add($"network '{shown}': vlan '{IdSyntax.Printable(pair[1])}' is not a number from 1 to 4094");
                    break;
                default:
                    found.Add($"network '{shown}': unknown setting '{IdSyntax.Printable(key)}'; the settings are uplink= and vlan=");
                    break;
            }
        }

        if (found.Count > 0)
        {
            return false;
        }

        definition = new NetworkDefinition(name, bridge, uplink, vlan);
        return true;
    }

    /// <summary>Checks a host's networks together: each one's values, and that no two clash.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<NetworkDefinition> networks)
    {
        var problems = new List<string>();
        var names = new HashSet<NetworkName>();
        var bridges = new Dictionary<InterfaceName, NetworkName>();
        var ports = new Dictionary<InterfaceName, NetworkName>();
        foreach (var network in networks)
        {
            var label = $"network {network.Name}";
            if (!network.Name.IsValid || !network.Bridge.IsValid || network.Uplink is { IsValid: false })
            {
                problems.Add($"{label}: name, bridge and uplink must be parsed values (NetworkName/InterfaceName.Parse)");
                continue;
            }

            if (!names.Add(network.Name))
            {
                problems.Add($"{label}: named twice; give each --network a different name");
            }

            if (!bridges.TryAdd(network.Bridge, network.Name))
            {
                problems.Add($"{label}: bridge {network.Bridge} is already the bridge of network {bridges[network.Bridge]}; each network needs its own bridge");
            }

            if (network.Bridge.Value.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_')))
            {
                // The bridge's name goes into every workspace's domain XML, whose check takes only these.
                problems.Add($"{label}: bridge {network.Bridge}: use lower-case letters, digits, '-' and '_' for a bridge name");
            }

            if (network.Vlan is { } vlan && vlan is < 1 or > 4094)
            {
                problems.Add($"{label}: vlan {vlan} is outside 1–4094");
            }

            if (network.Vlan is not null && network.Uplink is null)
            {
                problems.Add($"{label}: vlan={network.Vlan} needs an uplink= to tag frames on");
            }

            if (network.Uplink == network.Bridge)
            {
                problems.Add($"{label}: uplink {network.Uplink} is the bridge itself; name the physical interface that leads out");
            }

            if (network.UplinkPort is { } port && !ports.TryAdd(port, network.Name))
            {
                problems.Add($"{label}: {port} is already the uplink port of network {ports[port]}; an interface can be a port of only one bridge (use a different vlan= on a shared uplink)");
            }
        }

        foreach (var (port, network) in ports)
        {
            if (bridges.TryGetValue(port, out var other) && other != network)
            {
                problems.Add($"network {network}: uplink port {port} is the bridge of network {other}");
            }
        }

        return problems;
    }

    public override string ToString()
    {
        var text = $"{Name}={Bridge}";
        if (Uplink is { } uplink)
        {
            text += $",uplink={uplink}";
        }

        return Vlan is { } vlan ? text + string.Create(CultureInfo.InvariantCulture, $",vlan={vlan}") : text;
    }
}
