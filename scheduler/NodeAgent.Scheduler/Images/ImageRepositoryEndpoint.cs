using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The image repository's HTTP face: routes requests between the image listener and the gRPC server, and
/// translates GET, HEAD and PUT of <c>/v1/images/sha256/HEX</c> into calls of <see cref="ImageRepository"/> and
/// its outcomes into HTTP statuses with plain-text bodies. Only a digest checked by
/// <see cref="ImageSyntax.IsValidSha256"/> ever becomes part of a path.
/// </summary>
/// <remarks>With <c>--auth token</c>, reads and writes need a grant or a token (<see cref="Security.ImageAccess"/>): 401 otherwise.</remarks>
public sealed class ImageRepositoryEndpoint(ImageRepository repository, Security.ImageAccess access)
{
    private const string PlainText = "text/plain; charset=utf-8";
    private const string Usage = "images are at /v1/images/sha256/<64 lower-case hex digits>";

    /// <summary>
    /// Middleware ahead of the gRPC server: requests on the image listener are the repository's (404 unless under
    /// <c>/v1/images/</c>), and <c>/v1/images/</c> on any other listener is a 404 naming the right address.
    /// </summary>
    public async Task RouteAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var onImageListener = context.Features.Get<ImageListenerConnection>() is not null;
        var forImages = context.Request.Path.StartsWithSegments(ImageRepository.PathPrefix, StringComparison.Ordinal, out var rest);
        if (onImageListener && forImages)
        {
            await HandleAsync(context, rest);
        }
        else if (onImageListener)
        {
            await WriteTextAsync(context, StatusCodes.Status404NotFound, $"this listener serves images only: {Usage}; gRPC is on the scheduler's --listen address");
        }
        else if (forImages)
        {
            var where = repository.PublicUrl is { } url ? $"at {url}" : "nowhere: this scheduler runs without one (--image-listen none)";
            await WriteTextAsync(context, StatusCodes.Status404NotFound, $"this is the scheduler's gRPC listener; its image repository is served {where}");
        }
        else
        {
            await next(context);
        }
    }

    private async Task HandleAsync(HttpContext context, PathString rest)
    {
        if (!rest.StartsWithSegments("/sha256", StringComparison.Ordinal, out var digestPath) || !digestPath.HasValue)
        {
            await WriteTextAsync(context, StatusCodes.Status404NotFound, $"no such resource: {Usage}");
            return;
        }

        var digest = digestPath.Value![1..];
        if (!ImageSyntax.IsValidSha256(digest, out var problem))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, $"{problem}; {Usage}");
            return;
        }

        var method = context.Request.Method;
        var reads = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if ((reads ? access.RefuseRead(context, digest) : HttpMethods.IsPut(method) ? access.RefuseWrite(context) : null) is { } refusal)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await WriteTextAsync(context, StatusCodes.Status401Unauthorized, refusal);
            return;
        }

        if (reads)
        {
            await ServeAsync(context, digest);
        }
        else if (HttpMethods.IsPut(method))
        {
            await UploadAsync(context, digest);
        }
        else
        {
            context.Response.Headers.Allow = "GET, HEAD, PUT";
            await WriteTextAsync(context, StatusCodes.Status405MethodNotAllowed, $"{method} is not supported: GET or HEAD an image, or PUT one");
        }
    }

    private async Task ServeAsync(HttpContext context, string digest)
    {
        var file = new FileInfo(repository.PathOf(digest));
        if (!file.Exists)
        {
            await WriteTextAsync(context, StatusCodes.Status404NotFound,
                $"sha256 {digest} is not in this repository; upload it with PUT (ws image add --file) or add the image by URL");
            return;
        }

        var request = context.Request;
        var response = context.Response;
        var size = file.Length;
        var etag = $"\"{digest}\"";
        response.Headers.ETag = etag;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.CacheControl = "public, max-age=31536000, immutable"; // a digest's bytes never change

        // If-Range: the range only applies to the version the client already has part of.
        var ifRange = request.Headers[HeaderNames.IfRange].ToString();
        var wanted = ifRange.Length == 0 || ifRange == etag ? ByteRange.Parse(request.Headers.Range.ToString(), size) : RangeRequest.Whole;
        if (wanted.IsUnsatisfiable)
        {
            response.Headers.ContentRange = $"bytes */{size}";
            await WriteTextAsync(context, StatusCodes.Status416RangeNotSatisfiable,
                $"range '{IdSyntax.Printable(request.Headers.Range.ToString())}' lies outside the image's {size} bytes");
            return;
        }

        var (offset, count) = wanted.Range is { } range ? (range.Start, range.Length) : (0L, size);
        if (wanted.Range is not null)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {offset}-{offset + count - 1}/{size}";
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = count;
        if (HttpMethods.IsHead(request.Method) || count == 0)
        {
            return;
        }

        try
        {
            await response.SendFileAsync(file.FullName, offset, count, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away mid-download; nothing to answer.
        }
    }

    private async Task UploadAsync(HttpContext context, string digest)
    {
        if (context.Request.ContentLength is not { } length)
        {
            await WriteTextAsync(context, StatusCodes.Status411LengthRequired,
                "send Content-Length: the repository checks an image's size before it stores a byte, so uploads without a length (chunked) are not taken");
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Kestrel's default (30 MB) is far below an image; the repository checks the length against its own limit.
            limit.MaxRequestBodySize = Math.Max(length, 0);
        }

        ImageStoreResult result;
        try
        {
            result = await repository.StoreAsync(digest, length, context.Request.Body, context.RequestAborted);
        }
        catch (Exception e) when (e is UploadAbandonedException || (e is OperationCanceledException && context.RequestAborted.IsCancellationRequested))
        {
            // The client went away or sent less than it announced: no one to answer, and nothing was stored.
            context.Abort();
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await WriteTextAsync(context, StatusCodes.Status500InternalServerError,
                $"storing sha256 {digest} failed: {e.Message}. The scheduler's operator should check the repository directory {repository.Directory} (permissions, file system errors in the kernel log).");
            return;
        }

        if (result.Outcome == ImageStoreOutcome.Created)
        {
            context.Response.Headers.Location = $"{ImageRepository.PathPrefix}/sha256/{digest}";
        }

        var status = result.Outcome switch
        {
            ImageStoreOutcome.Created => StatusCodes.Status201Created,
            ImageStoreOutcome.AlreadyPresent => StatusCodes.Status200OK,
            ImageStoreOutcome.TooLarge => StatusCodes.Status413PayloadTooLarge,
            ImageStoreOutcome.InsufficientStorage => StatusCodes.Status507InsufficientStorage,
            _ => StatusCodes.Status400BadRequest,
        };
        await WriteTextAsync(context, status, result.Message);
    }

    private static Task WriteTextAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = PlainText;
        return context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }
}
