using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>Images, disks and saves of leases, on the wire.</summary>
internal static partial class WireMapping
{
    public const int MaxDataDisks = 8;
    private const ulong MinDataDiskBytes = 1UL << 20;
    private const ulong MaxLimit = 1_000_000_000_000_000;

    /// <summary>The data disks of a lease request, each checked; their sizes count towards the host's disk like the root disk.</summary>
    public static ValueList<long> ToDataDisks(string field, IReadOnlyList<ulong> sizes, RequestValidator v)
    {
        v.Count(field, sizes.Count, MaxDataDisks);
        return new ValueList<long>(sizes.Take(MaxDataDisks).Select((size, i) => v.Range($"{field}[{i}]", size, MinDataDiskBytes, MaxDiskBytes)));
    }

    public static DiskLimits ToDiskLimits(V1.DiskLimits? wire, RequestValidator v) => wire is null
        ? DiskLimits.None
        : new DiskLimits(v.Range("disk_limits.total_iops", wire.TotalIops, 0, MaxLimit), v.Range("disk_limits.total_bytes_per_second", wire.TotalBytesPerSecond, 0, MaxLimit));

    /// <summary>The workspace's limits, every problem listed; null when the request sets none (all zero), so the host's defaults apply.</summary>
    public static V1.WorkspaceLimits? ToLimits(V1.WorkspaceLimits? wire, ulong memoryBytes, RequestValidator v)
    {
        foreach (var problem in LimitsSyntax.Problems(wire, memoryBytes))
        {
            v.Require(false, problem);
        }

        return wire is null || wire.Equals(new V1.WorkspaceLimits()) ? null : wire.Clone();
    }

    /// <summary>The disks and save of one agent report, each value checked; null members when the report has none.</summary>
    public static (DiskUsage? Disk, SaveReport? Save) ToDiskReport(V1.WorkspaceStatus status, RequestValidator v)
    {
        DiskUsage? disk = status.DiskAllocatedBytes == 0 && status.DiskUsedBytes == 0 ? null : new DiskUsage(
            v.Range("statuses.disk_allocated_bytes", status.DiskAllocatedBytes, 0, MaxDiskBytes * (MaxDataDisks + 1)),
            v.Range("statuses.disk_used_bytes", status.DiskUsedBytes, 0, MaxDiskBytes * (MaxDataDisks + 1)));
        if (status.Save is not { Generation: > 0 } save)
        {
            return (disk, null);
        }

        var error = AgentApi.Clip(save.Error);
        if (save.Done && error.Length == 0 && !ImageSyntax.IsValidSha256(save.Sha256, out var problem))
        {
            v.Require(false, "statuses.save.sha256 " + problem);
        }

        return (disk, new SaveReport(
            v.Range("statuses.save.generation", save.Generation, 1, long.MaxValue),
            save.Done,
            v.Text("statuses.save.error", error, required: false, RequestValidator.MaxReportLength),
            save.Sha256,
            v.Range("statuses.save.size_bytes", save.SizeBytes, 0, ImageSyntax.MaxSizeBytes)));
    }

    /// <summary>What an agent needs to create the lease's workspace; <paramref name="urls"/> signs the repository's URLs in it.</summary>
    public static V1.WorkspaceSpec ToSpec(Lease lease, RepositoryUrls urls, Leases.LeaseExpiryPolicy? expiry = null)
    {
        var spec = new V1.WorkspaceSpec
        {
            Id = lease.Id.Value,
            Owner = lease.Owner,
            Project = lease.Project,
            Image = lease.ImageRef is { } image ? urls.Signed(image) : new V1.ImageRef { Name = lease.Image },
            Resources = ToWire(lease.Resources),
            ExpiresAt = Timestamp.FromDateTimeOffset(lease.ExpiresAt),
            DestroyAt = Timestamp.FromDateTimeOffset((expiry ?? Leases.LeaseExpiryPolicy.Default).DestroyAt(lease.ExpiresAt)),
            Power = ToWire(lease.Power),
            RebootCount = (ulong)lease.RebootsRequested,
            Networks = { lease.Networks.Select(ToWire) },
            SshKeys = { lease.SshKeys },
            Hostname = lease.Hostname,
            DataDiskBytes = { lease.DataDiskBytes.Select(b => (ulong)b) },
            DiskLimits = ToWire(lease.DiskLimits),
            Limits = lease.Limits?.Clone(),
        };
        if (lease.Save is { } save)
        {
            spec.Save = new V1.SaveRequest { Generation = (ulong)save.Generation, ImageName = save.ImageName, UploadUrl = urls.Upload(lease.Id.Value, save.Generation) };
        }

        return spec;
    }

    private static V1.DiskLimits? ToWire(DiskLimits limits) => limits == DiskLimits.None
        ? null
        : new V1.DiskLimits { TotalIops = (ulong)limits.TotalIops, TotalBytesPerSecond = (ulong)limits.TotalBytesPerSecond };

    /// <summary>The image, disk and save fields of a lease on the wire.</summary>
    private static void AddDisks(V1.Lease wire, Lease lease)
    {
        wire.ImageRef = lease.ImageRef?.Clone();
        wire.DataDiskBytes.Add(lease.DataDiskBytes.Select(b => (ulong)b));
        wire.DiskLimits = ToWire(lease.DiskLimits);
        wire.Limits = lease.Limits?.Clone();
        wire.Placement = lease.Placement?.Clone();
        wire.DiskAllocatedBytes = (ulong)lease.Disk.AllocatedBytes;
        wire.DiskUsedBytes = (ulong)lease.Disk.UsedBytes;
        if (lease.Save is { } save)
        {
            wire.Save = new V1.LeaseSave
            {
                ImageName = save.ImageName,
                Generation = (ulong)save.Generation,
                State = save.State switch
                {
                    SaveState.Saving => V1.SaveState.Saving,
                    SaveState.Saved => V1.SaveState.Saved,
                    _ => V1.SaveState.Failed,
                },
                Reason = save.Reason,
                ImageVersion = (uint)save.ImageVersion,
                RequestedAt = Timestamp.FromDateTimeOffset(save.RequestedAt),
            };
        }
    }
}
