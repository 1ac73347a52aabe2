using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Images;

/// <summary>How hard <see cref="ImageFetcher"/> tries.</summary>
public sealed record ImageFetcherOptions
{
    /// <summary>Requests (or file reads) per fetch before the source counts as unreachable.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The wait after the n-th failed attempt (n from 1); tests pass zero.</summary>
    public Func<int, TimeSpan> RetryDelay { get; init; } = DefaultRetryDelay;

    /// <summary>A download that sends nothing for this long is broken off and retried.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The shortest time between two progress reports.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>1, 2, 4, 8 … seconds, at most 30.</summary>
    public static TimeSpan DefaultRetryDelay(int attempt) => TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(attempt - 1, 5))));
}

/// <summary>
/// Streams one image from its http, https or file:// source into a partial file, hashing as it goes, and
/// verifies it. A broken connection, a timeout, 408, 429 or 5xx is retried, resuming with a Range request
/// where the server allows it; what arrives is never trusted until its sha256 is the catalogue's.
/// </summary>
public sealed partial class ImageFetcher(HttpClient http, ImageFetcherOptions options, TimeProvider time, ILogger<ImageFetcher> logger)
{
    private const int ChunkBytes = 128 << 10;

    private enum Outcome
    {
        Complete,
        RestartFromZero,
    }

    /// <summary>An HttpClient for image downloads: no automatic decompression (the digest is of the bytes sent).</summary>
    public static HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            // Covers the wait for the response headers only; the body has ReadTimeout per read.
            Timeout = TimeSpan.FromMinutes(2),
        };

    /// <summary>
    /// Fetches <paramref name="source"/> into <paramref name="partialPath"/>, resuming from what is already
    /// there, and returns its size once its digest is verified and it is synced to the disk. A download that
    /// fails its digest, exceeds the declared size or fills the disk is deleted; one that could not reach the
    /// source is kept for a later resume.
    /// </summary>
    public async Task<long> FetchAsync(ImageSource source, string partialPath, IProgress<ImageFetchProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var partial = PartialFile.Open(partialPath, source);
        try
        {
            return await FetchAsync(source, partial, progress, cancellationToken);
        }
        catch (ImageException e) when (e.Failure == ImageFailure.NotAvailable)
        {
            // Nothing is at the source: whatever comes there later may be other bytes, so keep nothing.
            partial.Delete();
            throw;
        }
        catch (Exception) when (!partial.IsDeleted && partial.Length == 0)
        {
            partial.Delete();
            throw;
        }
    }

    private async Task<long> FetchAsync(ImageSource source, PartialFile partial, IProgress<ImageFetchProgress>? progress, CancellationToken cancellationToken)
    {
        var throttle = new ProgressThrottle(progress, time, options.ProgressInterval);
        var retriedFromZero = false;
        var attempt = 0;
        string lastError = "none";
        while (true)
        {
            await partial.RehashAsync(cancellationToken);
            if (source.SizeBytes > 0 && partial.Length > source.SizeBytes)
            {
                partial.Reset();
            }

            var resumed = partial.Length > 0;
            attempt++;
            Outcome outcome;
            try
            {
                outcome = source.SizeBytes > 0 && partial.Length == source.SizeBytes
                    ? Outcome.Complete
                    : source.Url.IsFile
                        ? await CopyFileAsync(source, partial, throttle, cancellationToken)
                        : await DownloadAsync(source, partial, throttle, cancellationToken);
            }
            catch (TransientException e)
            {
                lastError = e.Message;
                if (attempt >= options.MaxAttempts)
                {
                    throw new ImageException(
                        ImageFailure.Unreachable,
                        $"image {source} could not be fetched from {source.Url} in {attempt} attempts; the last error: {lastError}. " +
                        "Check that the image repository is up and reachable from this host; what arrived is kept and resumed on the next try",
                        e.InnerException);
                }

                var delay = options.RetryDelay(attempt);
                LogRetry(source, source.Url, attempt, options.MaxAttempts, lastError, delay);
                await Task.Delay(delay, time, cancellationToken);
                continue;
            }

            if (outcome == Outcome.RestartFromZero && partial.Digest() != source.Sha256)
            {
                // The server refused the range (416) and what is here is not the whole image (a run that ended
                // between the last byte and the rename would have it): the next request asks for everything,
                // without a Range, so this cannot repeat; it does not count as an attempt.
                partial.Reset();
                attempt--;
                continue;
            }

            var digest = partial.Digest();
            if (digest == source.Sha256)
            {
                throttle.Report(partial.Length, partial.Length, force: true);
                partial.Sync();
                return partial.Length;
            }

            if (resumed && !retriedFromZero)
            {
                // The bytes kept from before may be what is wrong (a source replaced mid-download, a torn write):
                // fetch the whole image once more before blaming the source.
                LogMismatchAfterResume(source, source.Url);
                retriedFromZero = true;
                partial.Reset();
                attempt--;
                continue;
            }

            var length = partial.Length;
            partial.Delete();
            throw new ImageException(
                ImageFailure.DigestMismatch,
                $"image {source} from {source.Url} has sha256 {digest} ({PartialFile.Bytes(length)}), the catalogue says {source.Sha256}; " +
                "the file at the source is not the one registered: re-register the image with the right digest (ws image add) or put the registered file back at the source");
        }
    }

    private async Task<Outcome> DownloadAsync(ImageSource source, PartialFile partial, ProgressThrottle throttle, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, source.Url)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        var offset = partial.Length;
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new TransientException(Describe(e), e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransientException($"no response within the timeout ({http.Timeout})", e);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            long? total = response.Content.Headers.ContentLength;
            if (response.StatusCode == HttpStatusCode.PartialContent && offset > 0)
            {
                if (response.Content.Headers.ContentRange is not { From: { } from } range || from != offset)
                {
                    partial.Reset();
                    throw new TransientException($"asked for bytes from {offset} and got {response.Content.Headers.ContentRange}; starting over");
                }

                total = range.Length;
            }
            else if (response.StatusCode == HttpStatusCode.OK)
            {
                if (offset > 0)
                {
                    LogRangeIgnored(source, source.Url, offset);
                    partial.Reset();
                }
            }
            else if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && offset > 0)
            {
                return Outcome.RestartFromZero;
            }
            else if (status is 408 or 429 or >= 500)
            {
                throw new TransientException($"HTTP {status} {response.ReasonPhrase}");
            }
            else
            {
                throw new ImageException(
                    ImageFailure.NotAvailable,
                    $"image {source}: {source.Url} answered HTTP {status} {response.ReasonPhrase}; check that the file is published at that URL, or re-register the image with its right URL (ws image add)");
            }

            if (source.SizeBytes > 0 && total > source.SizeBytes)
            {
                partial.Delete();
                throw TooLarge(source, total.Value);
            }

            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                await CopyAsync(body, source, partial, total ?? NullIfZero(source.SizeBytes), throttle, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new TransientException(Describe(e), e);
            }

            return Outcome.Complete;
        }
    }

    private async Task<Outcome> CopyFileAsync(ImageSource source, PartialFile partial, ProgressThrottle throttle, CancellationToken cancellationToken)
    {
        var path = source.Url.LocalPath;
        FileStream input;
        try
        {
            input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new ImageException(
                ImageFailure.NotAvailable,
                $"image {source}: cannot read {path} ({e.Message}); put the file there (readable by the agent) or re-register the image with its right URL (ws image add)",
                e);
        }
        catch (IOException e)
        {
            throw new TransientException(e.Message, e);
        }

        await using (input)
        {
            var length = input.Length;
            if (source.SizeBytes > 0 && length > source.SizeBytes)
            {
                partial.Delete();
                throw TooLarge(source, length);
            }

            if (partial.Length > length)
            {
                partial.Reset();
            }

            input.Position = partial.Length;
            await CopyAsync(input, source, partial, length, throttle, cancellationToken);
            return Outcome.Complete;
        }
    }

    /// <summary>Appends the body to the partial file; read failures are transient, write failures are not.</summary>
    private async Task CopyAsync(Stream body, ImageSource source, PartialFile partial, long? total, ProgressThrottle throttle, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkBytes];
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
        throttle.Report(partial.Length, total);
        while (true)
        {
            int n;
            idle.CancelAfter(options.ReadTimeout);
            try
            {
                n = await body.ReadAsync(buffer, read.Token);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TransientException($"no data for {options.ReadTimeout.TotalSeconds:0} s after {PartialFile.Bytes(partial.Length)}", e);
            }
            catch (IOException e)
            {
                throw new TransientException($"the transfer broke off after {PartialFile.Bytes(partial.Length)}: {e.Message}", e);
            }

            if (n == 0)
            {
                return;
            }

            if (source.SizeBytes > 0 && partial.Length + n > source.SizeBytes)
            {
                var seen = partial.Length + n;
                partial.Delete();
                throw TooLarge(source, seen);
            }

            await partial.AppendAsync(buffer.AsMemory(0, n), cancellationToken);
            throttle.Report(partial.Length, total);
        }
    }

    private static ImageException TooLarge(ImageSource source, long seen) =>
        new(
            ImageFailure.TooLarge,
            $"image {source} from {source.Url} is larger than the {PartialFile.Bytes(source.SizeBytes)} the catalogue declares (at least {PartialFile.Bytes(seen)}); " +
            "the file at the source is not the one registered: re-register the image with its real size and digest (ws image add) or put the registered file back at the source");

    private static long? NullIfZero(long value) => value == 0 ? null : value;

    private static string Describe(HttpRequestException e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;

    [LoggerMessage(EventId = 700, Level = LogLevel.Warning, Message = "Fetching image {Image} from {Url} failed (attempt {Attempt} of {MaxAttempts}): {Error}; retrying in {Delay}")]
    private partial void LogRetry(ImageSource image, Uri url, int attempt, int maxAttempts, string error, TimeSpan delay);

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "{Url} ignored the range request for image {Image} from byte {Offset}; fetching it from the start")]
    private partial void LogRangeIgnored(ImageSource image, Uri url, long offset);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "Image {Image} from {Url} did not verify after resuming a partial download; fetching it whole once more")]
    private partial void LogMismatchAfterResume(ImageSource image, Uri url);

    /// <summary>A failure another attempt may not have: a broken connection, a timeout, 408, 429, 5xx.</summary>
    private sealed class TransientException(string message, Exception? inner = null) : Exception(message, inner);
}
