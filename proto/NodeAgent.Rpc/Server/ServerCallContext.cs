using Microsoft.AspNetCore.Http;

namespace NodeAgent.Rpc.Server;

/// <summary>What a service handler knows about the call it serves.</summary>
public sealed class ServerCallContext
{
    internal ServerCallContext(HttpContext httpContext, string method, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        Method = method;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The call's path, e.g. <c>/nodeagent.v1.HostService/ListHosts</c>.</summary>
    public string Method { get; }

    /// <summary>When the client stops waiting; null when it set no deadline.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled when the client cancels, the connection drops or the deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The remote address and port, for logs.</summary>
    public string Peer => $"{HttpContext.Connection.RemoteIpAddress}:{HttpContext.Connection.RemotePort}";

    /// <summary>The underlying HTTP context: its connection carries the client certificate under TLS.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Who is calling, as the server's <see cref="IRpcCallGate"/> decided; null without a gate.</summary>
    public object? Caller { get; internal set; }

    /// <summary>The value of a request metadata entry (a custom header), or null.</summary>
    public string? GetRequestHeader(string key)
    {
        var lower = key.ToLowerInvariant();
        if (Metadata.IsReserved(lower))
        {
            return null;
        }

        return HttpContext.Request.Headers.TryGetValue(lower, out var values) ? values.ToString() : null;
    }
}

/// <summary>Sends the messages of a server-streaming call, one at a time, in order.</summary>
public interface IServerStreamWriter<in T>
{
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

public delegate Task<TResponse> UnaryHandler<in TRequest, TResponse>(TRequest request, ServerCallContext context);

public delegate Task ServerStreamingHandler<in TRequest, out TResponse>(TRequest request, IServerStreamWriter<TResponse> responses, ServerCallContext context);

/// <summary>Admits or refuses a call before its handler runs (authentication and per-method authorization).</summary>
public interface IRpcCallGate
{
    /// <summary>Returns who the caller is, or throws an <see cref="RpcException"/> saying why the call is refused.</summary>
    ValueTask<object?> AdmitAsync(ServerCallContext context);
}

/// <summary>Sees every finished call: the place to count calls and failures at the edge.</summary>
public interface IRpcCallObserver
{
    void OnCallCompleted(string method, StatusCode status, TimeSpan elapsed);
}
