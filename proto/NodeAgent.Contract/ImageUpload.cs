using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace NodeAgent.Contract;

/// <summary>
/// Uploads an image file to a scheduler's image repository (<c>PUT REPOSITORY/sha256/HEX</c>), as the agent does
/// when it saves a workspace and ws does for <c>ws image add --file</c>. Asks with HEAD first and sends nothing
/// when the repository already holds the digest; retries what may pass on a second try (no connection, a reset,
/// a 5xx other than 507) with <see cref="ImageUploadOptions.Delay"/> between tries; anything else becomes an
/// <see cref="ImageUploadException"/> with the repository's own words and what to do about them.
/// </summary>
public sealed class ImageUpload : IDisposable
{
    private const int BufferSize = 256 * 1024;
    private const int MaxMessageLength = 4096;

    private readonly HttpClient _http;
    private readonly ImageUploadOptions _options;

    /// <param name="options">Retries and delays; the defaults when null.</param>
    /// <param name="handler">The HTTP handler to send with (not disposed here); a new <see cref="SocketsHttpHandler"/> when null.</param>
    public ImageUpload(ImageUploadOptions? options = null, HttpMessageHandler? handler = null)
    {
        _options = options ?? new ImageUploadOptions();
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = _options.ConnectTimeout }, disposeHandler: handler is null)
        {
            // An image takes as long as it takes; a stalled connection is found by the transport, not by a clock here.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The sha256 digest of a file as 64 lower-case hex digits, as sha256sum prints it.</summary>
    public static async Task<string> ComputeSha256Async(string file, CancellationToken cancellationToken)
    {
        await using var stream = OpenRead(file);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    /// <summary>
    /// Uploads <paramref name="file"/>, whose digest is <paramref name="sha256"/>, to the repository at
    /// <paramref name="repositoryUrl"/> (ending in <c>/v1/images</c>, as the scheduler announces it).
    /// <paramref name="progress"/> hears the bytes sent so far; it starts again from 0 when a try is repeated.
    /// </summary>
    public async Task<UploadResult> UploadAsync(Uri repositoryUrl, string file, string sha256, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repositoryUrl);
        ArgumentNullException.ThrowIfNull(file);
        if (!ImageSyntax.IsValidSha256(sha256, out var problem))
        {
            throw new ArgumentException(problem, nameof(sha256));
        }

        if (repositoryUrl.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"repository URL '{repositoryUrl}' is not http:// or https://", nameof(repositoryUrl));
        }

        // The query stays: a scheduler's upload URL carries the grant that lets a host upload (docs/security.md).
        var url = new Uri(repositoryUrl.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/sha256/" + sha256 + repositoryUrl.Query);
        long length;
        await using (var probe = OpenRead(file))
        {
            length = probe.Length;
        }

        for (var attempt = 1; ; attempt++)
        {
            string failure;
            try
            {
                var result = await TryOnceAsync(url, file, sha256, length, progress, cancellationToken);
                if (result.Result is { } done)
                {
                    return done;
                }

                failure = result.TransientFailure!;
            }
            catch (HttpRequestException e)
            {
                failure = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
            }
            catch (IOException e)
            {
                failure = e.Message;
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = "timed out: " + e.Message;
            }

            if (attempt > _options.Retries)
            {
                throw new ImageUploadException(
                    $"uploading {file} to {url} failed {attempt} times; the last time: {failure}. " +
                    "Check that the scheduler's image repository is reachable from here (the address ws image list shows), then try again.",
                    statusCode: null, serverMessage: null);
            }

            await _options.Delay(attempt, cancellationToken);
        }
    }

    public void Dispose() => _http.Dispose();

    private void Authorize(HttpRequestMessage request)
    {
        if (_options.BearerToken is { } token)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>One HEAD and, unless the image is there, one PUT: a result, a transient failure to retry, or an exception.</summary>
    private async Task<(UploadResult? Result, string? TransientFailure)> TryOnceAsync(
        Uri url, string file, string sha256, long length, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var head = new HttpRequestMessage(HttpMethod.Head, url);
        Authorize(head);
        using (var present = await _http.SendAsync(head, HttpCompletionOption.ResponseHeadersRead, cancellationToken))
        {
            if (present.StatusCode == HttpStatusCode.OK && present.Content.Headers.ContentLength == length)
            {
                progress?.Report(length);
                return (new UploadResult(sha256, length, AlreadyPresent: true), null);
            }

            if (IsTransient(present.StatusCode))
            {
                return (null, Describe(present.StatusCode, await ReadMessageAsync(present, cancellationToken)));
            }
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, url) { Content = new FileContent(file, length, progress) };

        // With 100-continue an early answer (already there, too large, disk full) spares sending the bytes.
        put.Headers.ExpectContinue = true;
        Authorize(put);
        using var response = await _http.SendAsync(put, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var message = await ReadMessageAsync(response, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
        {
            return (new UploadResult(sha256, length, AlreadyPresent: response.StatusCode == HttpStatusCode.OK), null);
        }

        if (IsTransient(response.StatusCode))
        {
            return (null, Describe(response.StatusCode, message));
        }

        throw new ImageUploadException(
            $"the image repository refused {file}: {Describe(response.StatusCode, message)}. {Advice(response.StatusCode, url)}",
            (int)response.StatusCode, message);
    }

    // 507 is not transient: a full disk stays full until someone acts.
    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests ||
        ((int)status >= 500 && status != HttpStatusCode.InsufficientStorage);

    private static string Advice(HttpStatusCode status, Uri url) => status switch
    {
        HttpStatusCode.InsufficientStorage =>
            "The scheduler's disk for images is full: its operator has to free space there or move the repository (--image-repository); then upload again.",
        HttpStatusCode.RequestEntityTooLarge =>
            "Ask the scheduler's operator to raise --image-max-size, or serve the file from a web server and add the image by its URL.",
        HttpStatusCode.BadRequest =>
            "Check that the file did not change after its digest was computed (sha256sum FILE), then upload again.",
        HttpStatusCode.LengthRequired =>
            "This client always sends Content-Length; a proxy between here and the scheduler drops it.",
        _ => $"Check that {url.GetLeftPart(UriPartial.Authority)} is the scheduler's image repository (ws image list shows its address).",
    };

    private static string Describe(HttpStatusCode status, string message) =>
        $"HTTP {(int)status} {status}" + (message.Length > 0 ? $": {message}" : string.Empty);

    private static async Task<string> ReadMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType != "text/plain")
        {
            return string.Empty;
        }

        var buffer = new byte[MaxMessageLength];
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var read = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        // A server's words end up in a terminal: no control characters, one line.
        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, read).Trim();
        return string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
    }

    private static FileStream OpenRead(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>The file as a request body of known length, read anew for each try, reporting progress.</summary>
    private sealed class FileContent : HttpContent
    {
        private readonly string _file;
        private readonly long _length;
        private readonly IProgress<long>? _progress;

        public FileContent(string file, long length, IProgress<long>? progress)
        {
            _file = file;
            _length = length;
            _progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var source = OpenRead(_file);
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                long sent = 0;
                int read;
                while ((read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, _length - sent)), cancellationToken)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    sent += read;
                    _progress?.Report(sent);
                }

                if (sent != _length)
                {
                    throw new IOException($"{_file} shrank from {_length} to {sent} bytes while it was being uploaded");
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}

/// <summary>How <see cref="ImageUpload"/> retries.</summary>
public sealed record ImageUploadOptions
{
    /// <summary>How many times a transient failure is tried again (so at most one more attempts in all).</summary>
    public int Retries { get; init; } = 5;

    /// <summary>Waits before try number N+1 (N from 1); by default 1, 2, 4, 8, 16 then 30 seconds.</summary>
    public Func<int, CancellationToken, Task> Delay { get; init; } = static (retry, ct) =>
        Task.Delay(TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(retry - 1, 5))), ct);

    /// <summary>How long one connection attempt may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A bearer token sent with every request (an admin's, from ws); null sends none, as a host with an upload grant does.</summary>
    public string? BearerToken { get; init; }
}

/// <summary>An uploaded (or already present) image.</summary>
public sealed record UploadResult(string Sha256, long SizeBytes, bool AlreadyPresent);

/// <summary>An upload that failed for good: the message says what the repository answered and what to do.</summary>
public sealed class ImageUploadException : Exception
{
    public ImageUploadException(string message, int? statusCode, string? serverMessage)
        : base(message)
    {
        StatusCode = statusCode;
        ServerMessage = serverMessage;
    }

    public ImageUploadException()
    {
    }

    public ImageUploadException(string message)
        : base(message)
    {
    }

    public ImageUploadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The repository's HTTP status, or null when it was never reached.</summary>
    public int? StatusCode { get; }

    /// <summary>The repository's own explanation (its plain-text body), if any.</summary>
    public string? ServerMessage { get; }
}
