using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Images;

/// <summary>The cache's size: what is in it, eviction by last use, and the checks before a download.</summary>
public sealed partial class ImageCache
{
    /// <summary>One file in the cache directory: a verified image or a partial download.</summary>
    private sealed record Entry(string Digest, string Path, long Bytes, DateTime LastUse, bool IsPartial);

    /// <summary>Bytes taken by everything in the cache: verified images and partial downloads.</summary>
    public long UsedBytes() => Scan().Sum(e => e.Bytes);

    /// <summary>The directory, read afresh: files are the truth, so nothing in memory can drift from them.</summary>
    private List<Entry> Scan()
    {
        var entries = new List<Entry>();
        foreach (var info in new DirectoryInfo(_images).EnumerateFiles())
        {
            var name = info.Name;
            var isPartial = name.EndsWith(".partial", StringComparison.Ordinal);
            var digest = isPartial ? name[..^".partial".Length] : name;
            if (!CacheFiles.IsDigest(digest))
            {
                continue;
            }

            try
            {
                entries.Add(new Entry(digest, info.FullName, info.Length, info.LastWriteTimeUtc, isPartial));
            }
            catch (FileNotFoundException)
            {
                // Removed while this scan ran: nothing to count.
            }
        }

        return entries;
    }

    private void MakeRoom(long bytes, string sha256, string what)
    {
        var pinned = _workspaceDigests();
        lock (_lock)
        {
            MakeRoomLocked(bytes, sha256, what, pinned);
        }
    }

    /// <summary>
    /// Evicts until <paramref name="bytes"/> more fit under <see cref="MaxBytes"/>: first partial downloads
    /// nobody is running, then verified images nobody uses, least recently used first. Evicts nothing when even
    /// all of that would not be enough.
    /// </summary>
    private void MakeRoomLocked(long bytes, string sha256, string what, IReadOnlySet<string> workspaceDigests)
    {
        var entries = Scan().Where(e => e.Digest != sha256).ToList();
        long used = 0;
        long inFlight = 0;
        foreach (var entry in entries)
        {
            // Another download in flight counts with what it will take when that is known, else with what it has.
            if (entry.IsPartial && _flights.TryGetValue(entry.Digest, out var other))
            {
                var reserved = Math.Max(entry.Bytes, other.ReservedBytes);
                used += reserved;
                inFlight += reserved;
            }
            else
            {
                used += entry.Bytes;
            }
        }

        foreach (var flight in _flights.Values.Where(f => f.Sha256 != sha256 && !entries.Any(e => e.IsPartial && e.Digest == f.Sha256)))
        {
            used += flight.ReservedBytes;
            inFlight += flight.ReservedBytes;
        }

        if (used + bytes <= MaxBytes)
        {
            return;
        }

        var candidates = entries
            .Where(e => e.IsPartial ? !_flights.ContainsKey(e.Digest) : !workspaceDigests.Contains(e.Digest) && !_pins.ContainsKey(e.Digest))
            .OrderBy(e => e.IsPartial ? 0 : 1)
            .ThenBy(e => e.LastUse)
            .ToList();
        if (used - candidates.Sum(e => e.Bytes) + bytes > MaxBytes)
        {
            var held = entries.Where(e => !e.IsPartial && (workspaceDigests.Contains(e.Digest) || _pins.ContainsKey(e.Digest))).ToList();
            throw new ImageException(
                ImageFailure.CacheFull,
                $"the image cache {Directory} cannot take {what} ({PartialFile.Bytes(bytes)}): its limit is {PartialFile.Bytes(MaxBytes)}, " +
                $"and {PartialFile.Bytes(held.Sum(e => e.Bytes))} of it are {held.Count} images that workspaces on this host use (never evicted)" +
                (inFlight > 0 ? $", {PartialFile.Bytes(inFlight)} downloads in progress" : string.Empty) +
                ". Raise the agent's --image-cache-size, or delete workspaces whose images are no longer needed here");
        }

        foreach (var entry in candidates)
        {
            if (used + bytes <= MaxBytes)
            {
                break;
            }

            try
            {
                File.Delete(entry.Path);
            }
            catch (IOException e)
            {
                LogEvictFailed(entry.Digest, e.Message);
                continue;
            }

            used -= entry.Bytes;
            LogEvicted(entry.IsPartial ? "partial download" : "image", entry.Digest, entry.Bytes, entry.LastUse);
        }
    }

    /// <summary>Fails before downloading anything when the filesystem cannot hold an image of known size.</summary>
    private void CheckFreeSpace(ImageSource source, string partial)
    {
        var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        var free = CacheFiles.FreeBytes(_images);
        if (source.SizeBytes - have > free)
        {
            throw new ImageException(
                ImageFailure.DiskFull,
                $"the filesystem of the image cache {Directory} has {PartialFile.Bytes(free)} free, too little for image {source} ({PartialFile.Bytes(source.SizeBytes)}) from {source.Url}. " +
                "Free space on that filesystem or lower --image-cache-size so the cache fits in it");
        }
    }

    private ImageException DiskFull(string what, long bytes, IOException e) =>
        new(
            ImageFailure.DiskFull,
            $"the filesystem of the image cache {Directory} is full: {what} ({PartialFile.Bytes(bytes)}) does not fit, {PartialFile.Bytes(CacheFiles.FreeBytes(_images))} are free there. " +
            "The cached images are intact; free space on that filesystem or lower --image-cache-size so the cache fits in it",
            e);

    [LoggerMessage(EventId = 713, Level = LogLevel.Information, Message = "Evicted {Kind} sha256 {Sha256} ({Bytes} bytes, last used {LastUse:o}) to stay under the cache size")]
    private partial void LogEvicted(string kind, string sha256, long bytes, DateTime lastUse);

    [LoggerMessage(EventId = 714, Level = LogLevel.Warning, Message = "Could not evict image sha256 {Sha256}: {Error}")]
    private partial void LogEvictFailed(string sha256, string error);

    /// <summary>One download or adoption of a digest, shared by everyone waiting for it.</summary>
    private sealed class Flight(string sha256, long reservedBytes, bool isAdoption) : IProgress<ImageFetchProgress>
    {
        private volatile IProgress<ImageFetchProgress>[] _sinks = [];
        private int _waiters;

        public string Sha256 { get; } = sha256;

        /// <summary>The size the download will take when it is known up front, else 0.</summary>
        public long ReservedBytes { get; } = reservedBytes;

        public bool IsAdoption { get; } = isAdoption;

        /// <summary>Cancelled only when every waiter has given up.</summary>
        public CancellationTokenSource Cancel { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;

        /// <summary>Every waiter gave up and the work was cancelled: a newcomer waits for it to end and starts anew.</summary>
        public bool Abandoned { get; set; }

        /// <summary>Under the cache's lock.</summary>
        public void Join(IProgress<ImageFetchProgress>? progress)
        {
            _waiters++;
            if (progress is not null)
            {
                _sinks = [.. _sinks, progress];
            }
        }

        /// <summary>Under the cache's lock; true when this was the last waiter.</summary>
        public bool Leave(IProgress<ImageFetchProgress>? progress)
        {
            _waiters--;
            if (progress is not null)
            {
                var index = Array.IndexOf(_sinks, progress);
                _sinks = index < 0 ? _sinks : [.. _sinks[..index], .. _sinks[(index + 1)..]];
            }

            return _waiters == 0;
        }

        public void Report(ImageFetchProgress value)
        {
            foreach (var sink in _sinks)
            {
                sink.Report(value);
            }
        }
    }
}
