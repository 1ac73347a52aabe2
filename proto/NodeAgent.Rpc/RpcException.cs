namespace NodeAgent.Rpc;

/// <summary>
/// A call that ended with a status other than OK. Servers throw it to answer with that status;
/// clients receive it when the peer, the transport or the deadline ended the call.
/// <see cref="Exception.Message"/> is the status message sent on the wire: it names the problem and the fix.
/// </summary>
public sealed class RpcException : Exception
{
    public RpcException(StatusCode status, string message)
        : base(message) => Status = status;

    public RpcException(StatusCode status, string message, Exception innerException)
        : base(message, innerException) => Status = status;

    public RpcException()
        : this(StatusCode.Unknown, "unknown error")
    {
    }

    public RpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public RpcException(string message, Exception innerException)
        : this(StatusCode.Unknown, message, innerException)
    {
    }

    public StatusCode Status { get; }

    public override string ToString() => $"{Status.ToWireName()}: {Message}";
}
