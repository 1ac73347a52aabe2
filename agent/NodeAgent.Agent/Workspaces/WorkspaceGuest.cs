using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>One NIC of a workspace, as the scheduler placed it; every value checked.</summary>
public sealed record WorkspaceNic(string Network, string Mac, IPAddress Address, int PrefixLength, IPAddress? Gateway, IReadOnlyList<IPAddress> DnsServers);

/// <summary>What the guest is told about itself: its hostname, its NICs (the first is eth0), the SSH keys it authorizes.</summary>
public sealed partial record WorkspaceGuest(string Hostname, IReadOnlyList<WorkspaceNic> Nics, IReadOnlyList<string> SshKeys)
{
    public const int MaxNics = 8;
    public const int MaxSshKeys = 16;
    public const int MaxSshKeyLength = 8192;

    /// <summary>
    /// Reads the guest part of a spec, adding every problem to <paramref name="problems"/>; null when the spec
    /// has no NIC, no key and no hostname. Nothing that fails these checks reaches a rule, XML or a command.
    /// </summary>
    public static WorkspaceGuest? FromWire(V1.WorkspaceSpec spec, List<string> problems)
    {
        if (spec.Networks.Count == 0 && spec.SshKeys.Count == 0 && string.IsNullOrEmpty(spec.Hostname))
        {
            return null;
        }

        var hostname = string.IsNullOrEmpty(spec.Hostname) ? spec.Id : spec.Hostname;
        if (!HostnamePattern().IsMatch(hostname))
        {
            problems.Add($"hostname '{Contract.IdSyntax.Printable(hostname)}' is not a DNS label (a–z, 0–9, '-', at most 63)");
        }

        if (spec.Networks.Count > MaxNics)
        {
            problems.Add($"{spec.Networks.Count} NICs is more than {MaxNics}");
        }

        var nics = spec.Networks.Take(MaxNics).Select((n, i) => Nic(n, i, problems)).OfType<WorkspaceNic>().ToList();
        if (spec.SshKeys.Count > MaxSshKeys)
        {
            problems.Add($"{spec.SshKeys.Count} SSH keys is more than {MaxSshKeys}");
        }

        var keys = new List<string>();
        foreach (var (text, i) in spec.SshKeys.Take(MaxSshKeys).Select((k, i) => (k, i)))
        {
            if (Contract.SshKeySyntax.IsValid(text, out var keyProblem))
            {
                keys.Add(text);
            }
            else
            {
                problems.Add($"SSH key {i} {keyProblem}");
            }
        }

        return new WorkspaceGuest(hostname, nics, keys);
    }

    private static WorkspaceNic? Nic(V1.NetworkAttachment wire, int index, List<string> problems)
    {
        var before = problems.Count;
        var where = $"NIC {index}";
        if (!Contract.NetworkSyntax.IsValidName(wire.Network, out var nameProblem))
        {
            problems.Add($"{where}: network name {nameProblem}");
        }

        if (!Contract.NetworkSyntax.IsValidMac(wire.Mac, out var macProblem))
        {
            problems.Add($"{where}: {macProblem}");
        }

        var address = Ipv4(wire.Address, $"{where}: address", problems, required: true);
        if (wire.PrefixLength is < 1 or > 32)
        {
            problems.Add($"{where}: prefix length {wire.PrefixLength} is outside 1–32");
        }

        var gateway = Ipv4(wire.Gateway, $"{where}: gateway", problems, required: false);
        if (wire.DnsServers.Count > 4)
        {
            problems.Add($"{where}: {wire.DnsServers.Count} DNS servers is more than 4");
        }

        var dns = wire.DnsServers.Take(4).Select(d => Ipv4(d, $"{where}: DNS server", problems, required: true)).OfType<IPAddress>().ToList();
        return problems.Count == before ? new WorkspaceNic(wire.Network, wire.Mac, address!, (int)wire.PrefixLength, gateway, dns) : null;
    }

    private static IPAddress? Ipv4(string text, string what, List<string> problems, bool required)
    {
        if (text.Length == 0 && !required)
        {
            return null;
        }

        if (Contract.NetworkSyntax.TryParseIPv4(text, out var address))
        {
            return address;
        }

        problems.Add($"{what} '{Contract.IdSyntax.Printable(text)}' is not an IPv4 address such as 10.0.0.5");
        return null;
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\z")]
    private static partial Regex HostnamePattern();
}
