using System.Net;
using System.Net.Sockets;
using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Agent.Contextualization;

/// <summary>One NIC as the wire describes it, not yet checked: the input of <see cref="NoCloudSeed"/>.</summary>
/// <param name="Gateway">Empty or null for a network without a gateway.</param>
public sealed record SeedNicInput(string Mac, string Address, int PrefixLength, string? Gateway, IReadOnlyList<string> DnsServers);

/// <summary>A checked NIC of a seed: <see cref="Name"/> is what the guest calls it (eth0 for the first).</summary>
public sealed record SeedNic(string Name, string Mac, IPAddress Address, int PrefixLength, IPAddress? Gateway, IReadOnlyList<IPAddress> DnsServers);

/// <summary>A NoCloud seed could not be made: its values were refused, or the ISO could not be built.</summary>
public sealed class SeedException : Exception
{
    public SeedException(string message)
        : base(message)
    {
    }

    public SeedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public SeedException()
    {
    }
}

/// <summary>
/// What a guest learns about itself at first boot, in cloud-init's NoCloud terms: its instance id and hostname,
/// the SSH keys it authorizes, and the static address of each NIC. Every value is checked when the seed is
/// made, every problem reported at once, so nothing a user sent reaches the seed's YAML unchecked;
/// <see cref="NoCloudFiles"/> then writes it, quoting every value besides.
/// </summary>
public sealed class NoCloudSeed
{
    public const int MaxSshKeys = 64;

    public const int MaxSshKeyLength = 16 * 1024;

    public const int MaxDnsServers = 8;

    public NoCloudSeed(string instanceId, string hostname, IReadOnlyList<string> sshKeys, IReadOnlyList<SeedNicInput> nics)
    {
        ArgumentNullException.ThrowIfNull(sshKeys);
        ArgumentNullException.ThrowIfNull(nics);
        var problems = new List<string>();
        if (!Contract.IdSyntax.IsValid(instanceId, out var idProblem))
        {
            problems.Add($"instance id {idProblem}");
        }

        if (!IsDnsLabel(hostname))
        {
            problems.Add($"hostname '{Contract.IdSyntax.Printable(hostname ?? string.Empty)}' is not a DNS label: 1–63 letters, digits and '-', not starting or ending with '-'");
        }

        if (sshKeys.Count > MaxSshKeys)
        {
            problems.Add($"{sshKeys.Count} SSH keys is more than {MaxSshKeys}");
        }

        var keys = new List<string>();
        for (var i = 0; i < sshKeys.Count; i++)
        {
            if (SshPublicKeySyntax.TryNormalize(sshKeys[i], MaxSshKeyLength, out var key, out var keyProblem))
            {
                keys.Add(key);
            }
            else
            {
                problems.Add($"SSH key {i}: {keyProblem}");
            }
        }

        var checkedNics = CheckNics(nics, problems);
        if (problems.Count > 0)
        {
            throw new SeedException($"the NoCloud seed of workspace {Contract.IdSyntax.Printable(instanceId ?? string.Empty)} was refused: {string.Join("; ", problems)}");
        }

        InstanceId = instanceId!;
        Hostname = hostname!;
        SshKeys = keys;
        Nics = checkedNics;
    }

    /// <summary>cloud-init runs its once-per-instance modules again only when this changes: the workspace id.</summary>
    public string InstanceId { get; }

    public string Hostname { get; }

    /// <summary>OpenSSH public keys, one line each: <c>TYPE BASE64 [COMMENT]</c>, single spaces between the parts.</summary>
    public IReadOnlyList<string> SshKeys { get; }

    public IReadOnlyList<SeedNic> Nics { get; }

    /// <summary>A hostname made from a workspace id, for a workspace whose owner named none: '.' and '_' become '-'.</summary>
    public static string HostnameFor(string workspaceId)
    {
        var label = new string([.. workspaceId.ToLowerInvariant().Select(c => c is '.' or '_' ? '-' : c)]);
        label = label.Length > 63 ? label[..63] : label;
        label = label.Trim('-');
        return IsDnsLabel(label) ? label : "workspace";
    }

    private static bool IsDnsLabel(string? text) =>
        text is { Length: >= 1 and <= 63 } && text[0] != '-' && text[^1] != '-' &&
        text.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-');

    private static List<SeedNic> CheckNics(IReadOnlyList<SeedNicInput> nics, List<string> problems)
    {
        var result = new List<SeedNic>();
        if (nics.Count > TapNames.MaxNics)
        {
            problems.Add($"{nics.Count} NICs is more than {TapNames.MaxNics}");
            return result;
        }

        var macs = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < nics.Count; i++)
        {
            var nic = nics[i];
            var before = problems.Count;
            if (nic is null)
            {
                problems.Add($"NIC {i} is missing");
                continue;
            }

            if (!Contract.NetworkSyntax.IsValidMac(nic.Mac, out var macProblem))
            {
                problems.Add($"NIC {i}: {macProblem}");
            }
            else if (!macs.Add(nic.Mac))
            {
                problems.Add($"NIC {i}: MAC {nic.Mac} is already another NIC's");
            }

            var address = Ipv4(nic.Address, $"NIC {i}: address", problems);
            if (nic.PrefixLength is < 1 or > 32)
            {
                problems.Add($"NIC {i}: prefix length {nic.PrefixLength} is outside 1–32");
            }

            IPAddress? gateway = null;
            if (!string.IsNullOrEmpty(nic.Gateway))
            {
                gateway = Ipv4(nic.Gateway, $"NIC {i}: gateway", problems);
                if (address is not null && gateway is not null && nic.PrefixLength is >= 1 and <= 32 &&
                    (gateway.Equals(address) || !SameSubnet(address, gateway, nic.PrefixLength)))
                {
                    problems.Add($"NIC {i}: gateway {gateway} is not another address in {address}/{nic.PrefixLength}");
                }
            }

            var dns = new List<IPAddress>();
            var servers = nic.DnsServers ?? [];
            if (servers.Count > MaxDnsServers)
            {
                problems.Add($"NIC {i}: {servers.Count} DNS servers is more than {MaxDnsServers}");
            }

            foreach (var server in servers.Take(MaxDnsServers))
            {
                if ((Canonical(server, AddressFamily.InterNetwork) ?? Canonical(server, AddressFamily.InterNetworkV6)) is { } parsed)
                {
                    dns.Add(parsed);
                }
                else
                {
                    problems.Add($"NIC {i}: DNS server '{Contract.IdSyntax.Printable(server ?? string.Empty)}' is not an IP address");
                }
            }

            if (problems.Count == before)
            {
                result.Add(new SeedNic("eth" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), nic.Mac, address!, nic.PrefixLength, gateway, dns));
            }
        }

        return result;
    }

    private static IPAddress? Ipv4(string? text, string what, List<string> problems)
    {
        var address = Canonical(text, AddressFamily.InterNetwork);
        if (address is null)
        {
            problems.Add($"{what} '{Contract.IdSyntax.Printable(text ?? string.Empty)}' is not an IPv4 address in dotted-quad form");
            return null;
        }

        var first = address.GetAddressBytes()[0];
        if (first is 0 or 127 || first >= 224)
        {
            problems.Add($"{what} {address} cannot be a host's address (unspecified, loopback, multicast or reserved)");
            return null;
        }

        return address;
    }

    /// <summary>Only the canonical spelling (IPAddress.Parse also takes "10.1" and "0x0a.0.0.1"); an IPv6 scope ("%eth0") never matches it.</summary>
    private static IPAddress? Canonical(string? text, AddressFamily family) =>
        text is not null && IPAddress.TryParse(text, out var address) && address.AddressFamily == family &&
        string.Equals(address.ToString(), text, StringComparison.OrdinalIgnoreCase)
            ? address
            : null;

    private static bool SameSubnet(IPAddress a, IPAddress b, int prefixLength)
    {
        var mask = prefixLength == 32 ? uint.MaxValue : ~(uint.MaxValue >> prefixLength);
        return (ToUInt32(a) & mask) == (ToUInt32(b) & mask);
    }

    private static uint ToUInt32(IPAddress address) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
}
