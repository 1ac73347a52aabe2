using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Rpc.Server;

/// <summary>
/// Answers gRPC calls on an ASP.NET Core pipeline: validates the request as the gRPC HTTP/2 protocol
/// requires, dispatches it to the registered handler by path, and turns every outcome — including every
/// exception — into one gRPC status. This is the one place exceptions become statuses.
/// </summary>
public sealed partial class RpcServer
{
    private readonly FrozenDictionary<string, IServerCallHandler> _handlers;
    private readonly RpcServerOptions _options;
    private readonly ILogger _logger;

    public RpcServer(RpcServiceRegistry registry, RpcServerOptions options, ILogger<RpcServer> logger)
    {
        _handlers = registry.Freeze();
        _options = options;
        _logger = logger;
    }

    public IReadOnlyCollection<string> Methods => _handlers.Keys;

    /// <summary>True for requests this server should answer: those that say they are gRPC.</summary>
    public static bool IsGrpcRequest(HttpRequest request) => GrpcProtocol.IsGrpcContentType(request.ContentType);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            await WritePlainErrorAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"this endpoint speaks gRPC: send POST requests with content-type {GrpcProtocol.ContentType} over HTTP/2\n");
            return;
        }

        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            await WritePlainErrorAsync(context, StatusCodes.Status426UpgradeRequired,
                $"gRPC needs HTTP/2 but this request came as {request.Protocol}; use a gRPC client (h2c or TLS with ALPN h2)\n");
            return;
        }

        var path = request.Path.Value ?? string.Empty;
        TimeSpan? timeout = null;
        if (request.Headers.TryGetValue(GrpcProtocol.TimeoutHeader, out var timeoutValue))
        {
            if (!GrpcProtocol.TryParseTimeout(timeoutValue.ToString(), out var parsed))
            {
                Finish(context, path, StatusCode.Internal, $"malformed grpc-timeout header '{timeoutValue}'; expected up to 8 digits and a unit (H, M, S, m, u, n)");
                return;
            }

            timeout = parsed;
        }

        if (request.Headers.TryGetValue(GrpcProtocol.EncodingHeader, out var encoding) && encoding.ToString() is { Length: > 0 } e && e != "identity")
        {
            context.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = "identity";
            Finish(context, path, StatusCode.Unimplemented, $"grpc-encoding '{e}' is not supported; send messages uncompressed (identity)");
            return;
        }

        if (!HttpMethods.IsPost(request.Method) || !_handlers.TryGetValue(path, out var handler))
        {
            Finish(context, path, StatusCode.Unimplemented, $"unknown method {request.Method} {path}; this server implements {_handlers.Count} methods of the nodeagent.v1 services");
            return;
        }

        // Messages are limited one by one (MaxReceiveMessageSize), not the body as a whole: streams are long.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        using var call = new ServerCall(context, path, _options, timeout);
        StatusCode status;
        string? message = null;
        try
        {
            if (_options.Gate is { } gate)
            {
                call.Context.Caller = await gate.AdmitAsync(call.Context);
            }

            await handler.HandleAsync(call);
            status = call.DeadlinePassed ? StatusCode.DeadlineExceeded : StatusCode.OK;
            if (status != StatusCode.OK)
            {
                message = DeadlineMessage(timeout);
            }
        }
        catch (Exception ex)
        {
            (status, message) = ToStatus(ex, call, path, timeout);
        }

        if (call.ClientGone)
        {
            _options.Observer?.OnCallCompleted(path, StatusCode.Cancelled, call.Elapsed);
            return;
        }

        call.Complete(status, message);
        _options.Observer?.OnCallCompleted(path, status, call.Elapsed);
    }

    private (StatusCode, string) ToStatus(Exception ex, ServerCall call, string path, TimeSpan? timeout)
    {
        switch (ex)
        {
            case RpcException rpc:
                return (rpc.Status, rpc.Message);
            case OperationCanceledException when call.DeadlinePassed:
                return (StatusCode.DeadlineExceeded, DeadlineMessage(timeout));
            case OperationCanceledException when call.ClientGone:
                return (StatusCode.Cancelled, "the client cancelled the call");
            case Microsoft.AspNetCore.Connections.ConnectionResetException or IOException when call.ClientGone:
                return (StatusCode.Cancelled, "the client went away");
        }

        if (_options.ExceptionMapper(ex) is { } mapped)
        {
            return (mapped.Status, mapped.Message);
        }

        var id = call.HttpContext.TraceIdentifier;
        LogUnhandled(_logger, ex, path, id);
        return (StatusCode.Internal, $"internal error in {path} (call {id}); the server log has the details under that call id");
    }

    private static string DeadlineMessage(TimeSpan? timeout) =>
        $"deadline of {timeout?.TotalMilliseconds ?? 0:0.###} ms exceeded before the server finished; allow a longer deadline or ask for less";

    private void Finish(HttpContext context, string path, StatusCode status, string message)
    {
        ServerCall.WriteTrailersOnly(context.Response, status, message);
        _options.Observer?.OnCallCompleted(path, status, TimeSpan.Zero);
    }

    private static Task WritePlainErrorAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Unhandled exception in {Method} (call {CallId})")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string callId);
}
