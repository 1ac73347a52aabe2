using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Placement;

/// <summary>
/// Why a host was not chosen, as shown to users ("3 hosts: insufficient memory"). Rejections are counted per
/// reason, so a reason names the request's value (the thing missing) and at most the host's architecture, never
/// per-host figures.
/// </summary>
public static class RejectReasons
{
    public const string Down = "down (no recent heartbeat)";
    public const string Degraded = "degraded (its agent cannot run new workspaces now; see `ws hosts show`)";
    public const string Disabled = "disabled by an admin";
    public const string Draining = "draining";
    public const string Refused = "refused this workspace (it did not fit what the host had)";
    public const string Drained = "drained (`ws hosts enable` returns it to placement)";
    public const string Vcpus = "insufficient vCPUs";
    public const string Memory = "insufficient memory";
    public const string Disk = "insufficient disk";

    /// <summary>E.g. "no bridge for network default": the host's agent does not announce the network.</summary>
    public static string NoBridge(string network) => $"no bridge for network {network}";

    /// <summary>E.g. "architecture aarch64, not x86_64": the host is aarch64, the workspace needs x86_64.</summary>
    public static string Architecture(string host, string wanted) =>
        $"architecture {(host.Length == 0 ? "unknown" : host)}, not {wanted}";

    /// <summary>E.g. "lacks feature gpu".</summary>
    public static string LacksFeature(string feature) => $"lacks feature {feature}";

    /// <summary>E.g. "label rack≠r1": the host has no label rack, or one with another value.</summary>
    public static string Label(string key, string value) => $"label {key}≠{value}";

    /// <summary>E.g. "runs a workspace of anti-affinity group db".</summary>
    public static string AntiAffinity(string group) => $"runs a workspace of anti-affinity group {group}";
}

/// <summary>Only hosts an admin has left enabled get work; disabled and draining hosts are named as such.</summary>
public sealed class HostScheduleFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) => candidate.Schedule switch
    {
        HostSchedule.Enabled => null,
        HostSchedule.Draining => RejectReasons.Draining,
        HostSchedule.Drained => RejectReasons.Drained,
        _ => RejectReasons.Disabled,
    };
}

/// <summary>Only hosts whose agent heartbeats within the TTL and does not report itself degraded get work.</summary>
public sealed class HostUpFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) => candidate.Health switch
    {
        HostHealth.Up => null,
        HostHealth.Degraded => RejectReasons.Degraded,
        _ => RejectReasons.Down,
    };
}

/// <summary>The names an architecture goes by: Debian's amd64/arm64 are the kernel's x86_64/aarch64.</summary>
public static class CpuArchitecture
{
    /// <summary>The kernel's name (as <c>uname -m</c> prints it) for <paramref name="name"/>, lower-cased.</summary>
    public static string Normalize(string name) => name.Trim().ToLowerInvariant() switch
    {
        "amd64" or "x64" => "x86_64",
        "arm64" => "aarch64",
        var other => other,
    };
}

/// <summary>A workspace that needs an architecture runs only on hosts of that architecture.</summary>
public sealed class ArchitectureFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        if (request.Architecture is not { } wanted)
        {
            return null;
        }

        var host = CpuArchitecture.Normalize(candidate.Host.Registration.Architecture);
        var needed = CpuArchitecture.Normalize(wanted);
        return host == needed ? null : RejectReasons.Architecture(host, needed);
    }
}

/// <summary>Every required feature must be among the host's announced features; the first missing one is named.</summary>
public sealed class FeaturesFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        foreach (var feature in request.RequiredFeatures)
        {
            if (!candidate.Host.Registration.Features.Contains(feature, StringComparer.Ordinal))
            {
                return RejectReasons.LacksFeature(feature);
            }
        }

        return null;
    }
}

/// <summary>Every required label must be on the host with the same value; the first (by key) that is not is named.</summary>
public sealed class LabelsFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request)
    {
        if (request.RequiredLabels.Count == 0)
        {
            return null;
        }

        var labels = candidate.Host.Registration.Labels;
        foreach (var (key, value) in request.RequiredLabels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            if (!labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return RejectReasons.Label(key, value);
            }
        }

        return null;
    }
}

/// <summary>A workspace of an anti-affinity group never joins another live workspace of that group on one host.</summary>
public sealed class AntiAffinityFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.AntiAffinityGroup is { } group && candidate.AntiAffinityGroups.Contains(group)
            ? RejectReasons.AntiAffinity(group)
            : null;
}

/// <summary>A workspace on a network can only run where the host has a bridge for that network.</summary>
public sealed class NetworkFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.Network is { } network && !candidate.Host.Registration.Networks.Contains(network, StringComparer.Ordinal)
            ? RejectReasons.NoBridge(network)
            : null;
}

/// <summary>
/// The workspace must fit what is free after every lease already placed on the host and what foreign domains use.
/// The capacity an agent reports is already after its host's reservation and overcommit.
/// </summary>
public sealed class CapacityFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.Resources.Vcpus > candidate.Free.Vcpus ? RejectReasons.Vcpus
        : request.Resources.MemoryBytes > candidate.Free.MemoryBytes ? RejectReasons.Memory
        : request.Resources.DiskBytes > candidate.Free.DiskBytes ? RejectReasons.Disk
        : null;
}

/// <summary>A host whose agent refused the workspace (the agent's own check found it does not fit) is not asked again.</summary>
public sealed class RefusedFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.RefusedBy.Count > 0 && request.RefusedBy.Contains(candidate.Id.Value) ? RejectReasons.Refused : null;
}
