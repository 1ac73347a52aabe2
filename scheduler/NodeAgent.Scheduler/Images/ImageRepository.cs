using System.Buffers;
using System.Security.Cryptography;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The scheduler's own image files, one per sha256 digest: the source of truth for which images this scheduler
/// can serve itself (saved workspaces and files uploaded with <c>ws image add --file</c>). Files live at
/// <c>DIR/sha256/HEX</c> and are only ever written whole: an upload goes to <c>HEX.upload-RANDOM</c> beside it,
/// is hashed on the way, fsynced, and renamed into place only when its digest is the one promised. A file under
/// its final name therefore always holds the bytes of its digest, and never changes.
/// </summary>
public sealed partial class ImageRepository
{
    /// <summary>The path under the listener where images are served: GET/HEAD/PUT <c>/v1/images/sha256/HEX</c>.</summary>
    public const string PathPrefix = "/v1/images";

    private const string UploadMarker = ".upload-";
    private const int BufferSize = 256 * 1024;

    private readonly ImageListener _listener;
    private readonly Uri? _configuredUrl;
    private readonly ILogger<ImageRepository> _logger;
    private readonly Lock _commit = new();

    public ImageRepository(SchedulerOptions options, ImageListener listener, ILogger<ImageRepository> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory = Path.GetFullPath(options.ImageRepositoryPath);
        FilesDirectory = Path.Combine(Directory, "sha256");
        MaxSizeBytes = options.ImageMaxSizeBytes;
        Enabled = options.ImageListen is not null;
        _configuredUrl = options.ImageUrl is { } url ? WithImagesPath(url) : null;
        _listener = listener;
        _logger = logger;
        if (Enabled)
        {
            Prepare();
        }
    }

    /// <summary>The repository's directory (absolute); image files are in its <c>sha256</c> subdirectory.</summary>
    public string Directory { get; }

    /// <summary>The largest upload taken, in bytes.</summary>
    public long MaxSizeBytes { get; }

    /// <summary>False when the scheduler was started with <c>--image-listen none</c>: nothing is served or taken.</summary>
    public bool Enabled { get; }

    /// <summary>
    /// Where agents and ws reach the repository, ending in <c>/v1/images</c>: <c>--image-url</c> when given, else
    /// the address the image listener really bound. Null when disabled, and before the app has started.
    /// </summary>
    public Uri? PublicUrl => !Enabled ? null : _configuredUrl ?? (_listener.BoundEndPoint is { } bound ? new Uri($"http://{bound}{PathPrefix}") : null);

    private string FilesDirectory { get; }

    /// <summary>The file of an image, whether or not it is stored; throws <see cref="ArgumentException"/> for anything but 64 lower-case hex digits.</summary>
    public string PathOf(string sha256)
    {
        if (!ImageSyntax.IsValidSha256(sha256, out var problem))
        {
            throw new ArgumentException(problem, nameof(sha256));
        }

        return Path.Combine(FilesDirectory, sha256);
    }

    public bool Contains(string sha256) => SizeOf(sha256) is not null;

    /// <summary>The size of a stored image, or null when it is not stored (or <paramref name="sha256"/> is no digest).</summary>
    public long? SizeOf(string sha256)
    {
        if (!ImageSyntax.IsValidSha256(sha256, out _))
        {
            return null;
        }

        var file = new FileInfo(PathOf(sha256));
        return file.Exists ? file.Length : null;
    }

    /// <summary>
    /// What an upload of <paramref name="length"/> bytes for <paramref name="sha256"/> gets before a byte of it is read:
    /// null to go ahead, else the refusal (or "already stored"). Lets a client that sent <c>Expect: 100-continue</c>
    /// keep its bytes.
    /// </summary>
    public ImageStoreResult? Precheck(string sha256, long length)
    {
        _ = PathOf(sha256); // throws for anything but a digest
        if (length > MaxSizeBytes)
        {
            return new(ImageStoreOutcome.TooLarge,
                $"the image is {length} bytes; this repository takes at most {MaxSizeBytes} bytes (the scheduler's --image-max-size). " +
                "Ask the operator to raise the limit, or serve the image from a web server of your own and add it by URL.");
        }

        if (SizeOf(sha256) is { } stored)
        {
            // The stored file has this digest (it was checked on the way in), so the request's bytes are not needed.
            return stored == length
                ? new(ImageStoreOutcome.AlreadyPresent, $"sha256 {sha256} is already stored ({stored} bytes)")
                : new(ImageStoreOutcome.SizeMismatch,
                    $"sha256 {sha256} is stored here with {stored} bytes, but this upload has {length}: the body is not that image. " +
                    "Compute the digest of the file you send (sha256sum FILE) and upload it under that.");
        }

        var free = FreeBytes();
        return free is { } available && available < length ? NoSpace(sha256, length, $"has {available} bytes free") : null;
    }

    /// <summary>
    /// Stores <paramref name="length"/> bytes from <paramref name="body"/> as image <paramref name="sha256"/> if they have
    /// that digest. Every outcome but success leaves nothing behind; so does a body that fails or ends early
    /// (<see cref="UploadAbandonedException"/>) and any other failure of the file system (its exception is passed on).
    /// </summary>
    public async Task<ImageStoreResult> StoreAsync(string sha256, long length, Stream body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (!Enabled)
        {
            throw new InvalidOperationException("the image repository is disabled (--image-listen none)");
        }

        if (Precheck(sha256, length) is { } early)
        {
            if (early.Outcome != ImageStoreOutcome.AlreadyPresent)
            {
                LogRefused(_logger, sha256, early.Message);
            }

            return early;
        }

        var final = PathOf(sha256);
        var temp = final + UploadMarker + RandomNumberGenerator.GetHexString(12, lowercase: true);
        var renamed = false;
        try
        {
            string actual;
            await using (var file = new FileStream(temp, NewFileOptions()))
            {
                actual = await CopyAndHashAsync(sha256, body, file, length, cancellationToken);
                if (actual == sha256)
                {
                    file.Flush(flushToDisk: true);
                }
            }

            if (actual != sha256)
            {
                var message = $"the body's sha256 is {actual}, not {sha256} as the URL says; nothing was stored. " +
                    "Upload it to .../sha256/" + actual + " if that is the file you meant, or check that the file did not change while it was sent.";
                LogRefused(_logger, sha256, message);
                return new(ImageStoreOutcome.DigestMismatch, message);
            }

            bool created;
            lock (_commit)
            {
                // One lock in one scheduler: of two uploads of the same digest exactly one renames, the other finds it there.
                created = !File.Exists(final);
                if (created)
                {
                    File.Move(temp, final);
                    renamed = true;
                }
            }

            if (!created)
            {
                return new(ImageStoreOutcome.AlreadyPresent, $"sha256 {sha256} is already stored ({length} bytes)");
            }

            DirectorySync.Flush(FilesDirectory);
            LogStored(_logger, sha256, length);
            return new(ImageStoreOutcome.Created, $"stored sha256 {sha256} ({length} bytes)");
        }
        catch (IOException e) when (IsNoSpace(e))
        {
            var result = NoSpace(sha256, length, "ran out of space while storing it");
            LogNoSpace(_logger, Directory, sha256, length);
            return result;
        }
        finally
        {
            if (!renamed)
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Copies the body into the file while hashing it; the read side's failures (the client) pass through unchanged.</summary>
    private async Task<string> CopyAndHashAsync(string sha256, Stream body, FileStream file, long length, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long received = 0;
        try
        {
            while (received < length)
            {
                int read;
                try
                {
                    read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - received)), cancellationToken);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    // Kestrel's BadHttpRequestException (a body cut short) and ConnectionResetException are IOExceptions.
                    LogAbandoned(_logger, sha256, received, length);
                    throw new UploadAbandonedException(sha256, received, length, e);
                }

                if (read == 0)
                {
                    LogAbandoned(_logger, sha256, received, length);
                    throw new UploadAbandonedException(sha256, received, length, null);
                }

                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                received += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static FileStreamOptions NewFileOptions()
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Saved workspaces are their owners' data: not for every local user to read.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        }

        return options;
    }

    private ImageStoreResult NoSpace(string sha256, long length, string what) => new(ImageStoreOutcome.InsufficientStorage,
        $"the image repository {Directory} {what} (sha256 {sha256}, {length} bytes); nothing was stored. " +
        "Free space there, or restart the scheduler with --image-repository on a larger file system, then upload again.");

    // ENOSPC and EDQUOT: .NET reports the errno of a failed write as the IOException's HResult on Linux.
    private static bool IsNoSpace(IOException e) => e.HResult is 28 or 122;

    private long? FreeBytes()
    {
        try
        {
            return new DriveInfo(FilesDirectory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Unknown: the write itself will tell.
            return null;
        }
    }

    /// <summary>Creates the directories, and removes uploads a crashed or killed scheduler left unfinished.</summary>
    private void Prepare()
    {
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        try
        {
            foreach (var directory in new[] { Directory, FilesDirectory })
            {
                _ = OperatingSystem.IsWindows() ? System.IO.Directory.CreateDirectory(directory) : System.IO.Directory.CreateDirectory(directory, mode);
            }

            var leftovers = System.IO.Directory.GetFiles(FilesDirectory, "*" + UploadMarker + "*");
            foreach (var leftover in leftovers)
            {
                File.Delete(leftover);
            }

            if (leftovers.Length > 0)
            {
                LogLeftovers(_logger, leftovers.Length, FilesDirectory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"image repository {Directory} cannot be prepared: {e.Message}. Create it writable for the scheduler's user, or choose another with --image-repository (or --image-listen none to run without one).", e);
        }
    }

    private static Uri WithImagesPath(Uri url)
    {
        var text = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        return new Uri(text.EndsWith(PathPrefix, StringComparison.Ordinal) ? text : text + PathPrefix);
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Image {Sha256} stored ({SizeBytes} bytes)")]
    private static partial void LogStored(ILogger logger, string sha256, long sizeBytes);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Upload of image {Sha256} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string sha256, string reason);

    [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Upload of image {Sha256} ended by the client after {Received} of {SizeBytes} bytes; nothing stored")]
    private static partial void LogAbandoned(ILogger logger, string sha256, long received, long sizeBytes);

    [LoggerMessage(EventId = 603, Level = LogLevel.Error, Message = "Image repository {Directory} is out of space: upload of {Sha256} ({SizeBytes} bytes) refused")]
    private static partial void LogNoSpace(ILogger logger, string directory, string sha256, long sizeBytes);

    [LoggerMessage(EventId = 604, Level = LogLevel.Information, Message = "Removed {Count} unfinished uploads an earlier run left in {Directory}")]
    private static partial void LogLeftovers(ILogger logger, int count, string directory);
}

/// <summary>How an upload ended.</summary>
public enum ImageStoreOutcome
{
    /// <summary>Stored now.</summary>
    Created,

    /// <summary>Was stored before: nothing to do.</summary>
    AlreadyPresent,

    /// <summary>The bytes have another digest than promised.</summary>
    DigestMismatch,

    /// <summary>The digest is stored with another size, so the bytes cannot be it.</summary>
    SizeMismatch,

    /// <summary>Larger than the repository's limit.</summary>
    TooLarge,

    /// <summary>The repository's file system is full.</summary>
    InsufficientStorage,
}

/// <summary>An upload's outcome and a message for the human who sent it, naming the cause and the fix.</summary>
public sealed record ImageStoreResult(ImageStoreOutcome Outcome, string Message);

/// <summary>The body of an upload failed or ended before its announced length (the client went away); nothing was stored.</summary>
public sealed class UploadAbandonedException(string sha256, long received, long length, Exception? inner)
    : IOException($"the upload of sha256 {sha256} ended after {received} of {length} bytes; nothing was stored. Upload it again.", inner)
{
    public string Sha256 { get; } = sha256;

    public long ReceivedBytes { get; } = received;
}
