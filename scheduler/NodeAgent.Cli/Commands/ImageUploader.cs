using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace NodeAgent.Cli.Commands;

/// <summary>What an upload did: the digest the file has, its size, and whether the repository had it already.</summary>
public sealed record UploadOutcome(string Sha256, long SizeBytes, bool AlreadyPresent);

/// <summary>
/// Hashes a local image file and puts it into the scheduler's image repository, for <c>ws image add --file</c>.
/// The same shape as the contract's upload client, so either can stand behind <c>ws</c>.
/// </summary>
public interface IImageUploader
{
    /// <summary>The file's sha256, lower-case hex.</summary>
    Task<string> ComputeSha256Async(string file, CancellationToken cancellationToken);

    /// <summary>Puts the file at <c>{repositoryUrl}/sha256/{sha256}</c>, reporting bytes sent to <paramref name="progress"/>.</summary>
    /// <exception cref="ImageUploadException">The repository could not be reached or refused the file.</exception>
    Task<UploadOutcome> UploadAsync(Uri repositoryUrl, string file, string sha256, IProgress<long>? progress, CancellationToken cancellationToken);
}

/// <summary>The upload failed; the message names the repository URL, what it answered, and what to check.</summary>
public sealed class ImageUploadException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// The repository's protocol over plain HTTP: HEAD <c>{repository}/sha256/{hex}</c> answers 200 when the
/// blob is there already; otherwise PUT sends the file with its Content-Length, and the repository checks
/// the digest before keeping it.
/// </summary>
public sealed class HttpImageUploader(HttpMessageHandler? handler = null) : IImageUploader
{
    private const int ChunkSize = 1 << 20;

    public async Task<string> ComputeSha256Async(string file, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    public async Task<UploadOutcome> UploadAsync(Uri repositoryUrl, string file, string sha256, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var target = BlobUrl(repositoryUrl, sha256);
        var length = new FileInfo(file).Length;
        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        client.Timeout = Timeout.InfiniteTimeSpan;
        try
        {
            using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, target), cancellationToken))
            {
                if (head.StatusCode == HttpStatusCode.OK)
                {
                    progress?.Report(length);
                    return new UploadOutcome(sha256, head.Content.Headers.ContentLength ?? length, AlreadyPresent: true);
                }
            }

            using var put = new HttpRequestMessage(HttpMethod.Put, target) { Content = new FileContent(file, length, progress) };
            using var response = await client.SendAsync(put, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
                var said = body.Length == 0 ? string.Empty : ": " + Contract.IdSyntax.Printable(body.Length > 300 ? body[..300] : body);
                throw new ImageUploadException(
                    $"the image repository refused {file} at {target} with HTTP {(int)response.StatusCode} {response.ReasonPhrase}{said}; check the file and the repository's free space");
            }

            return new UploadOutcome(sha256, length, AlreadyPresent: false);
        }
        catch (HttpRequestException e)
        {
            throw new ImageUploadException($"cannot upload to the image repository at {repositoryUrl}: {e.Message}; check that the scheduler's --image-listen address is reachable from here", e);
        }
    }

    /// <summary>Where the repository keeps the blob with this digest (and where agents fetch it from).</summary>
    public static Uri BlobUrl(Uri repositoryUrl, string sha256) =>
        new(repositoryUrl.ToString().TrimEnd('/') + "/sha256/" + sha256);

    /// <summary>The file as a request body of known length, reporting the bytes sent so far.</summary>
    private sealed class FileContent : HttpContent
    {
        private readonly string _file;
        private readonly long _length;
        private readonly IProgress<long>? _progress;

        public FileContent(string file, long length, IProgress<long>? progress)
        {
            (_file, _length, _progress) = (file, length, progress);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            Headers.ContentLength = length;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var source = new FileStream(_file, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var buffer = new byte[ChunkSize];
            long sent = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;
                _progress?.Report(sent);
            }

            if (sent != _length)
            {
                throw new IOException($"{_file} changed size while it was uploaded ({_length.ToString(CultureInfo.InvariantCulture)} bytes before, {sent.ToString(CultureInfo.InvariantCulture)} sent); upload it again once it is no longer written to");
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}

/// <summary>Shows an upload's progress on one terminal line of stderr, redrawn when the whole percentage changes.</summary>
internal sealed class TerminalProgress(TextWriter error, string label, long total) : IProgress<long>
{
    private int _shown = -1;

    public void Report(long value)
    {
        var percent = total == 0 ? 100 : (int)(value * 100 / total);
        if (percent == _shown)
        {
            return;
        }

        _shown = percent;
        error.Write($"\rws: uploading {label}: {Output.Units.Bytes((ulong)value)} of {Output.Units.Bytes((ulong)total)} ({percent}%)");
        if (value >= total)
        {
            error.WriteLine();
        }
    }
}
