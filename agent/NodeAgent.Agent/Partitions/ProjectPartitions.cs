using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace NodeAgent.Agent.Partitions;

/// <summary>
/// The libvirt partition a project's workspaces share (<c>&lt;resource&gt;&lt;partition&gt;</c> of the domain XML), and
/// the directory libvirt keeps it in. The partition's last component is always <c>project-</c> followed by a name made
/// only of <c>[a-z0-9_-]</c>, so no project name — "../", "cpu", "cgroup.procs", a NUL, 200 characters — can become a
/// path, a cgroup control file, or a name libvirt would escape:
/// <list type="bullet">
/// <item>a project matching <c>^[a-z0-9][a-z0-9_-]{0,31}$</c> is used as it is (no lowercasing: "Alice" is hashed);</item>
/// <item>the empty project (workspaces without one) is <c>default</c>;</item>
/// <item>anything else is <c>x</c> + the first 16 hex digits of SHA-256 of its UTF-8 bytes. So that no chosen name can
/// land in another project's partition, a project literally named <c>default</c> or shaped like a hashed name
/// (<c>x</c> + 16 hex digits) is hashed too: a verbatim name is never one the hash or the empty project could produce.</item>
/// </list>
/// </summary>
public static partial class ProjectPartitions
{
    /// <summary>The top-level cgroup libvirt places domains under when no partition says otherwise.</summary>
    public const string MachinePrefix = "/machine/";

    /// <summary>What libvirt appends to a partition's directory name (libvirt's virCgroupSetPartitionSuffix).</summary>
    public const string DirectorySuffix = ".partition";

    /// <summary>The name of the empty project's partition.</summary>
    public const string DefaultName = "default";

    private const string NamePrefix = "project-";

    /// <summary>The partition of <paramref name="project"/>'s workspaces, e.g. <c>/machine/project-alice</c>.</summary>
    public static string PartitionFor(string project)
    {
        ArgumentNullException.ThrowIfNull(project);
        return MachinePrefix + NamePrefix + SafeName(project);
    }

    /// <summary>Whether <paramref name="partition"/> has the shape <see cref="PartitionFor"/> gives.</summary>
    public static bool IsPartition(string partition) => partition is not null && PartitionPattern().IsMatch(partition);

    /// <summary>
    /// The directory libvirt keeps <paramref name="partition"/> in under each hierarchy's <c>machine</c> directory, e.g.
    /// <c>project-alice.partition</c> for <c>/machine/project-alice</c>. Only partitions <see cref="PartitionFor"/> makes are
    /// accepted: they are exactly the ones libvirt does not escape (no leading '_' or '.', no controller name).
    /// </summary>
    /// <exception cref="ArgumentException">The partition is not one <see cref="PartitionFor"/> makes.</exception>
    public static string DirectoryName(string partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        var match = PartitionPattern().Match(partition);
        if (!match.Success)
        {
            throw new ArgumentException(
                $"'{Printable(partition)}' is not a project partition (expected {MachinePrefix}{NamePrefix}NAME with NAME of [a-z0-9_-]); make it with ProjectPartitions.PartitionFor",
                nameof(partition));
        }

        return match.Groups["name"].Value + DirectorySuffix;
    }

    private static string SafeName(string project)
    {
        if (project.Length == 0)
        {
            return DefaultName;
        }

        if (VerbatimPattern().IsMatch(project) && project != DefaultName && !HashedPattern().IsMatch(project))
        {
            return project;
        }

        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(project));
        return "x" + Convert.ToHexStringLower(digest)[..16];
    }

    private static string Printable(string text)
    {
        var shown = text.Length > 80 ? text[..80] + "…" : text;
        return new string(shown.Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }

    // \z, not $: $ would also match before a trailing newline.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,31}\z", RegexOptions.CultureInvariant)]
    private static partial Regex VerbatimPattern();

    [GeneratedRegex(@"^x[0-9a-f]{16}\z", RegexOptions.CultureInvariant)]
    private static partial Regex HashedPattern();

    [GeneratedRegex(@"^/machine/(?<name>project-[a-z0-9][a-z0-9_-]{0,31})\z", RegexOptions.CultureInvariant)]
    private static partial Regex PartitionPattern();
}
