using NodeAgent.Metrics;
using NodeAgent.Scheduler.Images;

namespace NodeAgent.Scheduler.Metrics;

/// <summary>
/// Serves <c>/metrics</c> on the image repository's plain HTTP/1.1 listener (Prometheus scrapes HTTP/1.1, and the
/// gRPC listener may speak HTTP/2 only); everything else goes on to the repository's routing. With
/// <c>--image-listen none</c> there is no such listener, and so no metrics endpoint.
/// </summary>
public sealed class MetricsRoute(MetricsRegistry registry)
{
    public const string Path = "/metrics";

    public async Task RouteAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Features.Get<ImageListenerConnection>() is null || context.Request.Path != Path)
        {
            await next(context);
            return;
        }

        var response = context.Response;
        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"{method} is not supported; GET or HEAD {Path}\n");
            return;
        }

        var body = registry.RenderUtf8();
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = TextFormat.ContentType;
        response.ContentLength = body.Length;
        if (HttpMethods.IsGet(method))
        {
            await response.Body.WriteAsync(body);
        }
    }
}
