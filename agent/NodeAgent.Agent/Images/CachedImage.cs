namespace NodeAgent.Agent.Images;

/// <summary>
/// A verified image in the cache, held so that eviction leaves it alone until this is disposed. Whoever
/// acquires it records <see cref="Sha256"/> in the workspace (which pins it for good) before disposing.
/// </summary>
public sealed class CachedImage : IDisposable
{
    private readonly Action<string> _release;
    private int _released;

    internal CachedImage(string sha256, string path, long sizeBytes, Action<string> release)
    {
        Sha256 = sha256;
        Path = path;
        SizeBytes = sizeBytes;
        _release = release;
    }

    public string Sha256 { get; }

    /// <summary>The verified file, readable by QEMU; never written to.</summary>
    public string Path { get; }

    public long SizeBytes { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _release(Sha256);
        }
    }
}
