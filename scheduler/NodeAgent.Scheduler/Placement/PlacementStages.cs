using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Placement;

/// <summary>A host as placement sees it: its record, health now, and what is still free on it.</summary>
public sealed record PlacementCandidate(HostRecord Host, HostHealth Health, Resources Free)
{
    /// <summary>The sha256 digests of the images in the host's cache, as its agent last reported.</summary>
    public IReadOnlySet<string> CachedImages { get; init; } = new HashSet<string>();
}

/// <summary>What is being placed: the workspace's resources, and the network it needs a bridge for (null: none).</summary>
public sealed record PlacementRequest(Resources Resources, string? Network = null)
{
    /// <summary>The digest of the workspace's disk image; null when unknown.</summary>
    public string? ImageSha256 { get; init; }
}

/// <summary>Answers "can this host take the workspace?"; when not, names why with one of <see cref="RejectReasons"/>.</summary>
public interface IHostFilter
{
    string? Reject(PlacementCandidate candidate, PlacementRequest request);
}

/// <summary>Scores a feasible host from 0 (worst) to 1 (best) on one aspect.</summary>
public interface IHostRanker
{
    string Name { get; }

    double Score(PlacementCandidate candidate, PlacementRequest request);
}

/// <summary>Why a host was not chosen, as shown to users ("3 hosts: insufficient memory").</summary>
public static class RejectReasons
{
    public const string Down = "down (no recent heartbeat)";
    public const string Degraded = "degraded (its agent cannot run new workspaces now; see `ws hosts show`)";
    public const string Vcpus = "insufficient vCPUs";
    public const string Memory = "insufficient memory";
    public const string Disk = "insufficient disk";

    /// <summary>E.g. "no bridge for network default": the host's agent does not announce the network.</summary>
    public static string NoBridge(string network) => $"no bridge for network {network}";
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

/// <summary>A workspace on a network can only run where the host has a bridge for that network.</summary>
public sealed class NetworkFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.Network is { } network && !candidate.Host.Registration.Networks.Contains(network, StringComparer.Ordinal)
            ? RejectReasons.NoBridge(network)
            : null;
}

/// <summary>The workspace must fit what is free after every lease already placed on the host.</summary>
public sealed class CapacityFilter : IHostFilter
{
    public string? Reject(PlacementCandidate candidate, PlacementRequest request) =>
        request.Resources.Vcpus > candidate.Free.Vcpus ? RejectReasons.Vcpus
        : request.Resources.MemoryBytes > candidate.Free.MemoryBytes ? RejectReasons.Memory
        : request.Resources.DiskBytes > candidate.Free.DiskBytes ? RejectReasons.Disk
        : null;
}

/// <summary>Prefers hosts whose CPUs are really idle, as the agent measured, not as allocations suggest.</summary>
public sealed class MeasuredCpuRanker : IHostRanker
{
    public string Name => "measured-cpu";

    public double Score(PlacementCandidate candidate, PlacementRequest request) => 1 - Math.Clamp(candidate.Host.Load.CpuUtilization, 0, 1);
}

/// <summary>Prefers hosts with the most memory left after this workspace.</summary>
public sealed class MemoryHeadroomRanker : IHostRanker
{
    public string Name => "memory-headroom";

    public double Score(PlacementCandidate candidate, PlacementRequest request)
    {
        var capacity = candidate.Host.Registration.Capacity.MemoryBytes;
        return capacity <= 0 ? 0 : Math.Clamp((double)(candidate.Free.MemoryBytes - request.Resources.MemoryBytes) / capacity, 0, 1);
    }
}

/// <summary>Prefers hosts that have the workspace's image cached already: the workspace starts without a download.</summary>
public sealed class ImageCachedRanker : IHostRanker
{
    public string Name => "image-cached";

    public double Score(PlacementCandidate candidate, PlacementRequest request) =>
        request.ImageSha256 is { } digest && candidate.CachedImages.Contains(digest) ? 1 : 0;
}
