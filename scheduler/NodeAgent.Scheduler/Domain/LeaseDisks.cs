namespace NodeAgent.Scheduler.Domain;

/// <summary>Block I/O limits on each disk of a lease's workspace; 0 is unlimited.</summary>
public sealed record DiskLimits(long TotalIops, long TotalBytesPerSecond)
{
    public static readonly DiskLimits None = new(0, 0);
}

/// <summary>What a workspace's disks take, as its host last reported: the size the guest sees, and the bytes on the host beyond the shared base image.</summary>
public sealed record DiskUsage(long AllocatedBytes, long UsedBytes)
{
    public static readonly DiskUsage Unknown = new(0, 0);
}

public enum SaveState
{
    Saving,
    Saved,
    Failed,
}

/// <summary>
/// The latest save of a lease's root disk its owner asked for: generation <see cref="Generation"/> of the lease's
/// saves, into a new version of image <see cref="ImageName"/>. <see cref="ImageVersion"/> is the catalogue version
/// the image got, once saved.
/// </summary>
public sealed record LeaseSave(string ImageName, long Generation, SaveState State, string Reason, int ImageVersion, DateTimeOffset RequestedAt, string Description);
