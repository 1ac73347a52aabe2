using System.Globalization;
using System.Text;

namespace NodeAgent.Agent.Contextualization;

/// <summary>
/// The one serializer of a seed: the three files of cloud-init's NoCloud datasource, as it reads them from a
/// volume labelled <c>cidata</c>.
/// <list type="bullet">
/// <item><c>meta-data</c>: <c>instance-id</c>, <c>local-hostname</c>.</item>
/// <item><c>user-data</c>: <c>#cloud-config</c> with <c>ssh_authorized_keys</c> (the default user's keys).</item>
/// <item><c>network-config</c>: network config version 2 without a top-level <c>network:</c> key (the file's
/// name says what it is); each NIC an <c>ethernets</c> entry matched by <c>macaddress</c> and renamed by
/// <c>set-name</c>, with <c>addresses</c>, a default route in <c>routes</c> (<c>to: 0.0.0.0/0</c>, which
/// cloud-init versions older than the <c>default</c> keyword read too) and <c>nameservers.addresses</c>.</item>
/// </list>
/// Every value is a double-quoted YAML scalar in which anything but printable ASCII is escaped, so no
/// value — an SSH key's comment above all — can end its line, its string or its document. The test guest's
/// /init (tests/guest/init) reads these files with sed and awk, relying on exactly this layout: change both together.
/// </summary>
public sealed record NoCloudFiles(string MetaData, string UserData, string NetworkConfig)
{
    public const string MetaDataName = "meta-data";

    public const string UserDataName = "user-data";

    public const string NetworkConfigName = "network-config";

    public static NoCloudFiles Write(NoCloudSeed seed)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var meta = new StringBuilder()
            .Append("instance-id: ").Append(Quote(seed.InstanceId)).Append('\n')
            .Append("local-hostname: ").Append(Quote(seed.Hostname)).Append('\n');

        var user = new StringBuilder("#cloud-config\n");
        if (seed.SshKeys.Count == 0)
        {
            user.Append("ssh_authorized_keys: []\n");
        }
        else
        {
            user.Append("ssh_authorized_keys:\n");
            foreach (var key in seed.SshKeys)
            {
                user.Append("  - ").Append(Quote(key)).Append('\n');
            }
        }

        var network = new StringBuilder("version: 2\n");
        if (seed.Nics.Count == 0)
        {
            network.Append("ethernets: {}\n");
        }
        else
        {
            network.Append("ethernets:\n");
            foreach (var nic in seed.Nics)
            {
                // The id is ours ("eth0"), a plain YAML key; set-name makes it the guest's interface name too.
                network.Append("  ").Append(nic.Name).Append(":\n")
                    .Append("    match:\n")
                    .Append("      macaddress: ").Append(Quote(nic.Mac)).Append('\n')
                    .Append("    set-name: ").Append(Quote(nic.Name)).Append('\n')
                    .Append("    addresses:\n")
                    .Append("      - ").Append(Quote(string.Create(CultureInfo.InvariantCulture, $"{nic.Address}/{nic.PrefixLength}"))).Append('\n');
                if (nic.Gateway is not null)
                {
                    network.Append("    routes:\n")
                        .Append("      - to: ").Append(Quote("0.0.0.0/0")).Append('\n')
                        .Append("        via: ").Append(Quote(nic.Gateway.ToString())).Append('\n');
                }

                if (nic.DnsServers.Count > 0)
                {
                    network.Append("    nameservers:\n")
                        .Append("      addresses:\n");
                    foreach (var server in nic.DnsServers)
                    {
                        network.Append("        - ").Append(Quote(server.ToString())).Append('\n');
                    }
                }
            }
        }

        return new NoCloudFiles(meta.ToString(), user.ToString(), network.ToString());
    }

    /// <summary>
    /// A YAML double-quoted scalar: '"' and '\' escaped with '\', printable ASCII as is, every other character
    /// as \uXXXX (or \UXXXXXXXX beyond the BMP), which YAML 1.1 and 1.2 parsers (cloud-init's PyYAML) read back.
    /// </summary>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var rune in value.EnumerateRunes())
        {
            var c = rune.Value;
            if (c == '"' || c == '\\')
            {
                builder.Append('\\').Append((char)c);
            }
            else if (c is >= 0x20 and <= 0x7e)
            {
                builder.Append((char)c);
            }
            else if (c <= 0xffff)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{c:x4}");
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\U{c:x8}");
            }
        }

        return builder.Append('"').ToString();
    }
}
