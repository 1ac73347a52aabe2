using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Images;

/// <summary>
/// The source of truth for which image bytes are on this host: verified files keyed by digest under
/// <c>DIR/sha256/HEX</c> (one copy however many names and versions point at it), downloads in progress under
/// <c>HEX.partial</c>. Only a file whose sha256 was checked ever gets a final name, so everything under a final
/// name is served without hashing it again. Concurrent requests for one digest share one download; the least
/// recently used images that no workspace uses are evicted to stay under the size limit.
/// </summary>
/// <remarks>
/// A caller that gives up (its token is cancelled) only stops waiting: the download goes on for the others,
/// and is cancelled only when every caller waiting for it has given up. Its partial file is then kept, and
/// the next request for that digest resumes it.
/// </remarks>
public sealed partial class ImageCache
{
    private readonly string _images;
    private readonly Func<IReadOnlySet<string>> _workspaceDigests;
    private readonly ImageFetcher _fetcher;
    private readonly TimeProvider _time;
    private readonly ILogger<ImageCache> _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _pins = new(StringComparer.Ordinal);

    /// <param name="directory">The cache's directory; created (mode 0755) if missing.</param>
    /// <param name="maxBytes">The most the cached images (and partial downloads) may take together.</param>
    /// <param name="workspaceDigests">The digests workspaces on this host use: never evicted.</param>
    public ImageCache(string directory, long maxBytes, Func<IReadOnlySet<string>> workspaceDigests, ImageFetcher fetcher, TimeProvider time, ILogger<ImageCache> logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        Directory = directory;
        MaxBytes = maxBytes;
        _images = System.IO.Path.Combine(directory, "sha256");
        _workspaceDigests = workspaceDigests;
        _fetcher = fetcher;
        _time = time;
        _logger = logger;
        CacheFiles.CreateDirectory(directory);
        CacheFiles.CreateDirectory(_images);
    }

    public string Directory { get; }

    public long MaxBytes { get; }

    /// <summary>Where the verified image with this digest is (or would be).</summary>
    public string PathOf(string sha256) => System.IO.Path.Combine(_images, CheckDigest(sha256));

    /// <summary>The verified image's path, or null when it is not cached. Does not pin it.</summary>
    public string? Find(string sha256) => File.Exists(PathOf(sha256)) ? PathOf(sha256) : null;

    /// <summary>The digests of the verified images in the cache, sorted.</summary>
    public IReadOnlyList<string> Digests() =>
        Scan().Where(e => !e.IsPartial).Select(e => e.Digest).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The verified image, fetched first when it is not cached, and held until the result is disposed. Marks
    /// it used now for the eviction order.
    /// </summary>
    /// <exception cref="ImageException">The image could not be fetched, did not verify, or does not fit.</exception>
    public async Task<CachedImage> AcquireAsync(ImageSource source, IProgress<ImageFetchProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckDigest(source.Sha256);
        while (true)
        {
            Flight flight;
            lock (_lock)
            {
                if (TryPinLocked(source.Sha256) is { } cached)
                {
                    return cached;
                }

                flight = JoinOrStartLocked(source.Sha256, source.SizeBytes, adopt: false, progress, f => FetchAndInstallAsync(source, f));
            }

            // A failed download's error is every waiter's; a failed adoption is only the adopter's business.
            if (await WaitAsync(flight, progress, cancellationToken) is { } failure && !flight.IsAdoption)
            {
                throw failure;
            }

            // Verified and installed: pin it on the next turn (or fetch it again in the rare case an eviction
            // for another download took it before this caller could pin it).
        }
    }

    /// <summary>
    /// Moves a file whose digest the caller computed (e.g. a saved workspace disk) into the cache and returns
    /// its path there: a rename on the same filesystem, else a copy. The file is hashed again and refused (left
    /// where it was) when it does not have <paramref name="sha256"/>. When the cache already holds that image the
    /// file is deleted. The result is not pinned.
    /// </summary>
    /// <exception cref="ImageException">The digest does not match, the file does not fit, or the disk is full.</exception>
    public async Task<string> AdoptAsync(string file, string sha256, CancellationToken cancellationToken)
    {
        CheckDigest(sha256);
        var size = new FileInfo(file).Length;
        while (true)
        {
            Flight flight;
            bool mine;
            lock (_lock)
            {
                if (File.Exists(PathOf(sha256)))
                {
                    Touch(PathOf(sha256));
                    File.Delete(file);
                    return PathOf(sha256);
                }

                mine = !_flights.ContainsKey(sha256);
                flight = JoinOrStartLocked(sha256, size, adopt: true, null, f => MoveInAsync(file, sha256, size, f));
            }

            // Someone else's download or adoption of the same bytes failing says nothing about this file: try again.
            if (await WaitAsync(flight, null, cancellationToken) is { } failure && mine)
            {
                throw failure;
            }
        }
    }

    private Flight JoinOrStartLocked(string sha256, long reservedBytes, bool adopt, IProgress<ImageFetchProgress>? progress, Func<Flight, Task> work)
    {
        if (!_flights.TryGetValue(sha256, out var flight))
        {
            flight = new Flight(sha256, reservedBytes, adopt);
            _flights.Add(sha256, flight);
            flight.Task = Task.Run(() => RunFlightAsync(flight, work));
        }

        flight.Join(progress);
        return flight;
    }

    /// <summary>Waits for the flight; null once it is done (successfully, or abandoned by others), else its error.</summary>
    private async Task<Exception?> WaitAsync(Flight flight, IProgress<ImageFetchProgress>? progress, CancellationToken cancellationToken)
    {
        try
        {
            if (flight.Abandoned)
            {
                // Everyone else gave up just before this caller came; let it end, then start afresh.
                await flight.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                return null;
            }

            await flight.Task.WaitAsync(cancellationToken);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (ImageException e)
        {
            return e;
        }
        finally
        {
            bool cancel;
            lock (_lock)
            {
                cancel = flight.Leave(progress) && !flight.Task.IsCompleted;
                if (cancel)
                {
                    flight.Abandoned = true;
                }
            }

            if (cancel)
            {
                LogAbandoned(flight.Sha256);
                await flight.Cancel.CancelAsync();
            }
        }
    }

    private async Task RunFlightAsync(Flight flight, Func<Flight, Task> work)
    {
        try
        {
            await work(flight);
        }
        finally
        {
            lock (_lock)
            {
                _flights.Remove(flight.Sha256);
            }
        }
    }

    private async Task FetchAndInstallAsync(ImageSource source, Flight flight)
    {
        var partial = PartialPath(source.Sha256);
        var what = $"image {source}";
        if (source.SizeBytes > 0)
        {
            MakeRoom(source.SizeBytes, source.Sha256, what);
            CheckFreeSpace(source, partial);
        }

        var size = await _fetcher.FetchAsync(source, partial, flight, flight.Cancel.Token);
        Install(source.Sha256, size, what, roomMade: source.SizeBytes > 0);
        LogFetched(source, source.Sha256, size, source.Url);
    }

    private async Task MoveInAsync(string file, string sha256, long size, Flight flight)
    {
        var what = $"the image {file} (sha256 {sha256})";
        MakeRoom(size, sha256, what);
        var partial = PartialPath(sha256);
        try
        {
            File.Move(file, partial, overwrite: true);
        }
        catch (IOException e) when (CacheFiles.IsDiskFull(e))
        {
            File.Delete(partial);
            throw DiskFull(what, size, e);
        }

        try
        {
            string actual;
            await using (var stream = new FileStream(partial, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, useAsync: true))
            {
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, flight.Cancel.Token));
            }

            if (actual != sha256)
            {
                throw new ImageException(
                    ImageFailure.DigestMismatch,
                    $"{file} has sha256 {actual}, not the {sha256} it was given with; it was left where it was. Compute the digest of the finished file again");
            }

            CacheFiles.SyncFile(partial);
        }
        catch (IOException e) when (CacheFiles.IsDiskFull(e))
        {
            File.Move(partial, file);
            throw DiskFull(what, size, e);
        }
        catch
        {
            File.Move(partial, file);
            throw;
        }

        Install(sha256, size, what, roomMade: true);
        LogAdopted(sha256, size, file);
    }

    /// <summary>Gives the verified, synced partial file its final name, durably, and marks it used.</summary>
    private void Install(string sha256, long size, string what, bool roomMade)
    {
        var partial = PartialPath(sha256);
        var pinned = roomMade ? null : _workspaceDigests();
        lock (_lock)
        {
            if (pinned is not null)
            {
                try
                {
                    MakeRoomLocked(size, sha256, what, pinned);
                }
                catch (ImageException)
                {
                    File.Delete(partial);
                    throw;
                }
            }

            CacheFiles.SetFileMode(partial);
            File.Move(partial, PathOf(sha256), overwrite: true);
            CacheFiles.SyncDirectory(_images);
            Touch(PathOf(sha256));
        }
    }

    private CachedImage? TryPinLocked(string sha256)
    {
        var path = PathOf(sha256);
        long size;
        try
        {
            size = new FileInfo(path).Length;
            Touch(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        _pins[sha256] = _pins.GetValueOrDefault(sha256) + 1;
        return new CachedImage(sha256, path, size, Release);
    }

    private void Release(string sha256)
    {
        lock (_lock)
        {
            if (_pins[sha256] == 1)
            {
                _pins.Remove(sha256);
            }
            else
            {
                _pins[sha256]--;
            }
        }
    }

    /// <summary>The last use is the file's modification time, set by the cache (atime is not reliable under relatime).</summary>
    private void Touch(string path) => File.SetLastWriteTimeUtc(path, _time.GetUtcNow().UtcDateTime);

    private string PartialPath(string sha256) => PathOf(sha256) + ".partial";

    private static string CheckDigest(string sha256) =>
        ImageSyntax.IsValidSha256(sha256, out var problem) ? sha256 : throw new ArgumentException($"sha256 {problem}", nameof(sha256));

    [LoggerMessage(EventId = 710, Level = LogLevel.Information, Message = "Cached image {Image} (sha256 {Sha256}, {Bytes} bytes) from {Url}")]
    private partial void LogFetched(ImageSource image, string sha256, long bytes, Uri url);

    [LoggerMessage(EventId = 711, Level = LogLevel.Information, Message = "Adopted image sha256 {Sha256} ({Bytes} bytes) from {File}")]
    private partial void LogAdopted(string sha256, long bytes, string file);

    [LoggerMessage(EventId = 712, Level = LogLevel.Information, Message = "Every caller waiting for image sha256 {Sha256} gave up; its download stops and is resumed on the next request")]
    private partial void LogAbandoned(string sha256);
}
