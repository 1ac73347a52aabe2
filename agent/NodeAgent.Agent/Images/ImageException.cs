namespace NodeAgent.Agent.Images;

/// <summary>Why an image could not be fetched, verified or kept in the cache.</summary>
public enum ImageFailure
{
    /// <summary>The source kept failing (connection errors, 5xx, timeouts) for every attempt.</summary>
    Unreachable,

    /// <summary>The source answered with a status that retrying cannot fix (404, 403, …) or the file is not there.</summary>
    NotAvailable,

    /// <summary>The bytes do not have the catalogue's digest.</summary>
    DigestMismatch,

    /// <summary>The source sent more bytes than the catalogue declares.</summary>
    TooLarge,

    /// <summary>The filesystem under the cache is full.</summary>
    DiskFull,

    /// <summary>The cache's size limit cannot take the image, even after evicting every unpinned image.</summary>
    CacheFull,

    /// <summary>Writing the cache's files failed for another reason.</summary>
    LocalFile,
}

/// <summary>
/// An image the agent could not fetch, verify or cache. The message names the image, its source and what to
/// do; <see cref="Failure"/> says which kind of problem it is.
/// </summary>
public sealed class ImageException : Exception
{
    public ImageException(ImageFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public ImageException()
        : base("the image could not be fetched")
    {
    }

    public ImageException(string message)
        : base(message)
    {
    }

    public ImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ImageFailure Failure { get; }
}
