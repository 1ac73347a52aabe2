using System.Text.Json;

namespace NodeAgent.Agent.Networking;

/// <summary>One interface as <c>ip -details -json address show</c> describes it.</summary>
/// <param name="Kind">linkinfo's info_kind (bridge, vlan, veth, tun, dummy…); empty for a physical NIC.</param>
/// <param name="Master">The bridge (or bond) it is a port of.</param>
/// <param name="Parent">For a VLAN interface, the interface it tags frames on.</param>
/// <param name="VlanId">For a VLAN interface, its id.</param>
/// <param name="Addresses">Its global- and site-scope addresses (link-local ones left out).</param>
public sealed record LinkState(string Name, string Kind, string? Master, string? Parent, int? VlanId, bool IsUp, IReadOnlyList<string> Addresses);

/// <summary>The interfaces of one network namespace at one moment, read in a single <c>ip</c> call.</summary>
public sealed class LinkTable
{
    private readonly Dictionary<string, LinkState> _links;

    private LinkTable(Dictionary<string, LinkState> links) => _links = links;

    public IReadOnlyCollection<LinkState> All => _links.Values;

    public LinkState? Find(InterfaceName name) => _links.GetValueOrDefault(name.Value);

    /// <summary>The interfaces whose master is <paramref name="bridge"/>: its ports.</summary>
    public IReadOnlyList<string> PortsOf(InterfaceName bridge) =>
        _links.Values.Where(l => l.Master == bridge.Value).Select(l => l.Name).Order(StringComparer.Ordinal).ToList();

    public static async Task<LinkTable> ReadAsync(NetworkCommands commands, CancellationToken cancellationToken)
    {
        string json;
        try
        {
            json = await commands.RunCheckedAsync("ip", ["-details", "-json", "address", "show"], cancellationToken);
        }
        catch (Processes.CommandException e)
        {
            throw new NetworkException($"cannot list network interfaces: {e.Message}", e);
        }

        return Parse(json);
    }

    /// <summary>Parses ip's JSON; exposed for tests of odd inputs.</summary>
    public static LinkTable Parse(string json)
    {
        var links = new Dictionary<string, LinkState>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            var name = Text(link, "ifname");
            if (name is null)
            {
                continue;
            }

            var kind = "";
            int? vlanId = null;
            if (link.TryGetProperty("linkinfo", out var info))
            {
                kind = Text(info, "info_kind") ?? "";
                if (kind == "vlan" && info.TryGetProperty("info_data", out var data) && data.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number)
                {
                    vlanId = id.GetInt32();
                }
            }

            var up = link.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Array &&
                flags.EnumerateArray().Any(f => f.ValueKind == JsonValueKind.String && f.GetString() == "UP");
            var addresses = new List<string>();
            if (link.TryGetProperty("addr_info", out var addrInfo) && addrInfo.ValueKind == JsonValueKind.Array)
            {
                foreach (var address in addrInfo.EnumerateArray())
                {
                    if (Text(address, "scope") is not ("link" or "host") && Text(address, "local") is { } local)
                    {
                        addresses.Add(local);
                    }
                }
            }

            // "link" names a VLAN's parent only when the parent is in the same namespace (else link_netnsid is set).
            var parent = link.TryGetProperty("link_netnsid", out _) ? null : Text(link, "link");
            links[name] = new LinkState(name, kind, Text(link, "master"), parent, vlanId, up, addresses);
        }

        return new LinkTable(links);
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
