using NodeAgent.Contract;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>Block I/O limits on each of a workspace's disks (libvirt &lt;iotune&gt;); 0 is unlimited.</summary>
public sealed record DiskLimits(long TotalIops, long TotalBytesPerSecond)
{
    public static readonly DiskLimits None = new(0, 0);

    public bool IsNone => TotalIops == 0 && TotalBytesPerSecond == 0;
}

/// <summary>
/// A workspace's disks beyond its root disk: blank data disks by size (vdb, vdc, …) and the limits every disk
/// gets.
/// </summary>
public sealed record WorkspaceStorage(IReadOnlyList<long> DataDiskBytes, DiskLimits Limits)
{
    public const int MaxDataDisks = 8;
    public const long MinDataDiskBytes = 1L << 20;
    public const long MaxDataDiskBytes = 1L << 50;

    /// <summary>The largest limit libvirt takes (QEMU's throttle limit is 1e15).</summary>
    public const long MaxLimit = 1_000_000_000_000_000;

    public static readonly WorkspaceStorage None = new([], DiskLimits.None);

    public static WorkspaceStorage FromWire(V1.WorkspaceSpec spec, List<string> problems)
    {
        if (spec.DataDiskBytes.Count > MaxDataDisks)
        {
            problems.Add($"{spec.DataDiskBytes.Count} data disks is more than {MaxDataDisks}");
        }

        var sizes = new List<long>();
        foreach (var (size, i) in spec.DataDiskBytes.Take(MaxDataDisks).Select((s, i) => (s, i)))
        {
            if (size is < MinDataDiskBytes or > MaxDataDiskBytes)
            {
                problems.Add($"data disk {i} of {size} bytes is outside 1 MiB–1 PiB");
            }
            else
            {
                sizes.Add((long)size);
            }
        }

        var limits = spec.DiskLimits ?? new V1.DiskLimits();
        if (limits.TotalIops > MaxLimit || limits.TotalBytesPerSecond > MaxLimit)
        {
            problems.Add($"disk limits {limits.TotalIops} IOPS, {limits.TotalBytesPerSecond} B/s: each must be at most {MaxLimit}");
        }

        return sizes.Count == 0 && limits.TotalIops == 0 && limits.TotalBytesPerSecond == 0
            ? None
            : new WorkspaceStorage(sizes, new DiskLimits((long)Math.Min(limits.TotalIops, MaxLimit), (long)Math.Min(limits.TotalBytesPerSecond, MaxLimit)));
    }
}

/// <summary>A save of the root disk the owner asked for: generation <see cref="Generation"/> of the lease's saves.</summary>
public sealed record WorkspaceSave(ulong Generation, string ImageName, Uri UploadUrl)
{
    public static WorkspaceSave? FromWire(V1.SaveRequest? save, List<string> problems)
    {
        if (save is null || save.Generation == 0)
        {
            return null;
        }

        var before = problems.Count;
        if (!IdSyntax.IsValid(save.ImageName, out var nameProblem))
        {
            problems.Add($"save image name {nameProblem}");
        }

        if (!ImageSyntax.TryParseSource(save.UploadUrl, out var url, out var urlProblem) || url!.IsFile)
        {
            problems.Add($"save upload url {(url is { IsFile: true } ? "must be http or https" : urlProblem)}");
        }

        return problems.Count == before ? new WorkspaceSave(save.Generation, save.ImageName, url!) : null;
    }
}
