using System.CommandLine;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary>`ws lease`'s placement options: where the workspace may go, what it must not share a host with, and --dry-run.</summary>
internal sealed class LeasePlacement
{
    public const string Manual = """
        Placement: --arch, --feature and --label keep the workspace off hosts that lack them;
        --anti-affinity GROUP keeps it off every host that runs a live lease of GROUP (e.g. the replicas
        of a database); --spread-group GROUP prefers hosts that run fewer leases of GROUP. Among the hosts
        that can take it, the scheduler prefers the least loaded as the agents measure them, one that has
        the image cached, and then spreads or packs as its operator chose. --dry-run asks where the lease
        would go and why, and stores nothing.
        """;

    public Option<string?> Architecture { get; } = new("--arch") { Description = "Only on hosts of this CPU architecture, e.g. x86_64 or aarch64 (amd64 and arm64 are the same)." };

    public Option<string[]> Features { get; } = new("--feature")
    {
        Description = "Only on hosts whose agent announces this feature, e.g. gpu (see `ws hosts show`). Repeatable, at most 16.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> Labels { get; } = new("--label")
    {
        Description = "Only on hosts with this label, as KEY=VALUE, e.g. rack=r1. Repeatable, at most 16.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> AntiAffinity { get; } = new("--anti-affinity") { Description = "Never on a host that runs a live lease of this group." };

    public Option<string?> SpreadGroup { get; } = new("--spread-group") { Description = "Preferably on hosts that run fewer live leases of this group." };

    public Option<bool> DryRun { get; } = new("--dry-run") { Description = "Only say where the lease would go, and why; nothing is leased." };

    public IEnumerable<Option> All => [Architecture, Features, Labels, AntiAffinity, SpreadGroup, DryRun];

    /// <summary>The constraints given on the command line; null when none was.</summary>
    public PlacementConstraints? Constraints(ParseResult parse)
    {
        var constraints = new PlacementConstraints
        {
            Architecture = parse.GetValue(Architecture) ?? string.Empty,
            AntiAffinityGroup = parse.GetValue(AntiAffinity) ?? string.Empty,
            SpreadGroup = parse.GetValue(SpreadGroup) ?? string.Empty,
        };
        constraints.RequiredFeatures.Add(parse.GetValue(Features) ?? []);
        foreach (var label in parse.GetValue(Labels) ?? [])
        {
            var equals = label.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"--label '{label}' is not KEY=VALUE, e.g. --label rack=r1");
            }

            constraints.RequiredLabels[label[..equals]] = label[(equals + 1)..];
        }

        return constraints.Equals(new PlacementConstraints()) ? null : constraints;
    }

    /// <summary>What a dry run prints: where the lease would go and why, or why no host can take it (the scheduler's words either way).</summary>
    public static string Render(Lease plan) => plan.StateReason;
}
