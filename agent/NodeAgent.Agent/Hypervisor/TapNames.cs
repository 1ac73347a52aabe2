using System.Security.Cryptography;
using System.Text;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// The names of the tap devices libvirt creates for a workspace's NICs. The one source of those names: the
/// domain XML asks libvirt for them (<c>&lt;target dev&gt;</c>) and the network code matches packets on them,
/// so both call <see cref="For"/> and never build a tap name of their own.
/// </summary>
/// <remarks>
/// A Linux interface name has at most 15 characters (IFNAMSIZ 16 with the NUL). Two forms, told apart by
/// their prefix so they can never collide with each other:
/// <list type="bullet">
/// <item><c>na</c> + the id without its <c>w-</c> + <c>-</c> + NIC index, for ids of the scheduler's form
/// (<c>w-</c> and lower-case letters and digits) when that fits: <c>w-k3m9x2pq7a</c>, NIC 0 → <c>nak3m9x2pq7a-0</c>.
/// It fits the ten characters after <c>w-</c> of the ids schedulers made before ids carried their creation time, not
/// the fifteen of the ids made now, which take the second form.
/// The id part holds no <c>-</c>, so the last <c>-</c> splits the name back into id and index: no two
/// workspaces or NICs share a name.</item>
/// <item>otherwise <c>nh</c> + the first 10 hex digits of SHA-256 of the id + <c>-</c> + index, e.g.
/// <c>nh3f9a2c1b0e-1</c>: 40 bits, so a clash between two workspaces on one host is negligible.</item>
/// </list>
/// Neither form starts with <c>vnet</c>, <c>vif</c> or <c>macvtap</c>, the prefixes libvirt keeps for names it picks itself.
/// </remarks>
public static class TapNames
{
    private static readonly System.Buffers.SearchValues<char> LowerAlphanumerics =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789");

    /// <summary>The prefixes of every name <see cref="For"/> makes: a port so named on a bridge is a workspace's tap.</summary>
    public static IReadOnlyList<string> Prefixes { get; } = ["na", "nh"];

    /// <summary>Linux's limit on an interface name, without the terminating NUL.</summary>
    public const int MaxLength = 15;

    /// <summary>NICs per workspace: indexes 0–15, so the hashed form stays within <see cref="MaxLength"/>.</summary>
    public const int MaxNics = 16;

    public static string For(string workspaceId, int nicIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nicIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(nicIndex, MaxNics);
        if (!Contract.IdSyntax.IsValid(workspaceId, out var problem))
        {
            throw new ArgumentException($"workspace id {problem}", nameof(workspaceId));
        }

        var index = nicIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (IsSchedulerId(workspaceId) && 2 + (workspaceId.Length - 2) + 1 + index.Length <= MaxLength)
        {
            return "na" + workspaceId[2..] + "-" + index;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(workspaceId)));
        return "nh" + hash[..10] + "-" + index;
    }

    /// <summary>
    /// Whether <paramref name="name"/> is a safe Linux interface name for a bridge or tap the agent names:
    /// 1–15 of lower-case letters, digits, '-' and '_' (no '/', ':', '.', whitespace, or "." / "..").
    /// </summary>
    public static bool IsValidInterfaceName(string? name, out string problem)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            problem = $"'{Contract.IdSyntax.Printable(name ?? string.Empty)}' is not 1–{MaxLength} characters long";
            return false;
        }

        foreach (var c in name)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
            {
                problem = $"'{Contract.IdSyntax.Printable(name)}' has '{Contract.IdSyntax.Printable(c.ToString())}'; use lower-case letters, digits, '-' and '_'";
                return false;
            }
        }

        problem = string.Empty;
        return true;
    }

    private static bool IsSchedulerId(string id) =>
        id.Length > 2 && id.StartsWith("w-", StringComparison.Ordinal) && id.AsSpan(2).IndexOfAnyExcept(LowerAlphanumerics) < 0;
}
