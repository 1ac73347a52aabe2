namespace NodeAgent.Agent.Partitions;

/// <summary>
/// A project partition the agent could not set up in the cgroup filesystem. The message names the path, the kernel's
/// reason (EACCES, EROFS, ENOSPC, …) and what the operator can do; <see cref="Path"/> is the file or directory.
/// </summary>
public sealed class CgroupPartitionException : Exception
{
    public CgroupPartitionException(string path, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
    }

    public CgroupPartitionException()
        : base("the project's cgroup partition could not be set up")
    {
    }

    public CgroupPartitionException(string message)
        : base(message)
    {
    }

    public CgroupPartitionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The cgroup file or directory that failed, or empty when none is known.</summary>
    public string Path { get; } = string.Empty;
}
