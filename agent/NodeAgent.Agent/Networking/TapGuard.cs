namespace NodeAgent.Agent.Networking;

/// <summary>
/// Makes anti-spoofing fail closed: frames from any bridge port whose name starts with one of these prefixes
/// (the forms the agent names its taps in) and that has no workspace's rules are dropped, and counted in
/// <see cref="AntiSpoofRules.GuardCounter"/>. So a tap whose workspace is missing from the rule set — one still
/// running while it is being removed after an agent restart, or one whose rules failed to apply — sends
/// nothing, instead of sending anything.
/// </summary>
public sealed class TapGuard
{
    private TapGuard(IReadOnlyList<string> prefixes) => Prefixes = prefixes;

    /// <summary>Each is a valid interface-name prefix of 1–14 characters, so PREFIX* is a safe nft wildcard.</summary>
    public IReadOnlyList<string> Prefixes { get; }

    /// <summary>
    /// Checks the prefixes, and that no network's uplink port (whose frames come from the outside, not from a
    /// workspace) starts with one of them; every problem is reported at once.
    /// </summary>
    public static TapGuard Create(IReadOnlyList<string> prefixes, IReadOnlyList<NetworkDefinition> networks)
    {
        var problems = new List<string>();
        foreach (var prefix in prefixes)
        {
            if (!InterfaceName.TryParse(prefix, out _, out var problem) || prefix.Length >= InterfaceName.MaxLength)
            {
                problems.Add($"tap prefix {(problem.Length > 0 ? problem : $"'{prefix}' leaves no room for the rest of a name")}");
                continue;
            }

            foreach (var network in networks)
            {
                if (network.UplinkPort is { } port && port.Value.StartsWith(prefix, StringComparison.Ordinal))
                {
                    problems.Add($"network {network.Name}: uplink port {port} starts with {prefix}, the prefix of workspace taps; " +
                        "its frames would be dropped. Rename the uplink (a systemd .link file) or choose another");
                }
            }
        }

        return problems.Count == 0 ? new TapGuard(prefixes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList())
            : throw new NetworkException(string.Join("; ", problems));
    }
}
