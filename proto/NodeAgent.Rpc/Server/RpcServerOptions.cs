namespace NodeAgent.Rpc.Server;

/// <summary>Limits and hooks of an <see cref="RpcServer"/>.</summary>
public sealed record RpcServerOptions
{
    /// <summary>Largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>Largest response message sent; a handler that returns a larger one fails with RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; init; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>
    /// Turns the typed exceptions of the application's adapters into statuses: the one place where that
    /// mapping lives. Returns null for exceptions it does not know; those become INTERNAL.
    /// </summary>
    public Func<Exception, RpcException?> ExceptionMapper { get; init; } = static _ => null;

    public IRpcCallObserver? Observer { get; init; }

    /// <summary>
    /// Decides, before the handler runs, whether the caller may make the call: it returns who the caller is (kept in
    /// <see cref="ServerCallContext.Caller"/>) or throws an <see cref="RpcException"/> (UNAUTHENTICATED,
    /// PERMISSION_DENIED). Null lets every call through with no caller.
    /// </summary>
    public IRpcCallGate? Gate { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
