namespace NodeAgent.Agent.Disks;

/// <summary>
/// A workspace's disk footprint. <paramref name="AllocatedBytes"/>: the sizes its guest sees (the root disk's and
/// the data disks' virtual sizes). <paramref name="UsedBytes"/>: what its own files really occupy on the host
/// (overlay, data disks, seed, console log, …), never the shared base image they stand on.
/// </summary>
public sealed record DiskUsage(long AllocatedBytes, long UsedBytes)
{
    public static readonly DiskUsage None = new(0, 0);
}
