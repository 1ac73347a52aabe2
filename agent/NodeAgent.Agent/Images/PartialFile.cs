using System.Globalization;
using System.Security.Cryptography;

namespace NodeAgent.Agent.Images;

/// <summary>
/// An image being written under its <c>.partial</c> name, with the sha256 of exactly the bytes in it. Every
/// local write failure comes out as an <see cref="ImageException"/> (a full disk deletes the file first), so
/// callers can tell them from a broken download.
/// </summary>
internal sealed class PartialFile : IDisposable
{
    private const int BufferBytes = 1 << 20;

    private readonly FileStream _file;
    private readonly ImageSource _source;
    private IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    private PartialFile(string path, FileStream file, ImageSource source)
    {
        Path = path;
        _file = file;
        _source = source;
    }

    public string Path { get; }

    /// <summary>Bytes in the file, all of them hashed; 0 once deleted.</summary>
    public long Length => IsDeleted ? 0 : _file.Length;

    public bool IsDeleted { get; private set; }

    /// <summary>Opens the partial file, keeping what an earlier attempt or run left in it.</summary>
    public static PartialFile Open(string path, ImageSource source)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read,
            // Unbuffered: a full disk shows at the write that hits it, never later in Dispose.
            BufferSize = 0,
        };
        if (OperatingSystem.IsLinux())
        {
            options.UnixCreateMode = CacheFiles.FileMode;
        }

        try
        {
            return new PartialFile(path, new FileStream(path, options), source);
        }
        catch (IOException e)
        {
            throw LocalFailure(path, source, e);
        }
    }

    /// <summary>Hashes the bytes already in the file again, so a resumed download hashes the whole image.</summary>
    public async Task RehashAsync(CancellationToken cancellationToken)
    {
        _hash.Dispose();
        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BufferBytes];
        _file.Position = 0;
        int read;
        while ((read = await _file.ReadAsync(buffer, cancellationToken)) > 0)
        {
            _hash.AppendData(buffer, 0, read);
        }
    }

    /// <summary>Drops everything written so far: the next bytes are the image's first.</summary>
    public void Reset()
    {
        _file.SetLength(0);
        _file.Position = 0;
        _hash.Dispose();
        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    }

    public async Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            await _file.WriteAsync(bytes, cancellationToken);
        }
        catch (IOException e)
        {
            throw Fail(e);
        }

        _hash.AppendData(bytes.Span);
    }

    /// <summary>The sha256 of the bytes written, as 64 lower-case hex digits.</summary>
    public string Digest() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    /// <summary>fsync: a verified image is on the disk before it gets its final name.</summary>
    public void Sync()
    {
        try
        {
            _file.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            throw Fail(e);
        }
    }

    /// <summary>Closes and removes the file.</summary>
    public void Delete()
    {
        Dispose();
        if (!IsDeleted)
        {
            File.Delete(Path);
            IsDeleted = true;
        }
    }

    public void Dispose()
    {
        _file.Dispose();
        _hash.Dispose();
    }

    private ImageException Fail(IOException e)
    {
        var written = _file.Position;
        if (!CacheFiles.IsDiskFull(e))
        {
            return LocalFailure(Path, _source, e);
        }

        Delete();
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        var size = _source.SizeBytes > 0
            ? $"{Bytes(_source.SizeBytes)}"
            : $"of unknown size; {Bytes(written)} had arrived";
        return new ImageException(
            ImageFailure.DiskFull,
            $"the filesystem of the image cache {directory} is full: image {_source} ({size}) from {_source.Url} does not fit, {Bytes(CacheFiles.FreeBytes(directory))} are free there. " +
            "The partial download was removed and the cached images are intact; free space on that filesystem or lower --image-cache-size so the cache fits in it",
            e);
    }

    private static ImageException LocalFailure(string path, ImageSource source, IOException e) =>
        new(ImageFailure.LocalFile, $"writing image {source} to {path} failed: {e.Message}; check that filesystem (permissions, errors in the kernel log)", e);

    internal static string Bytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");
}
