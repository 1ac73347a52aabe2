using Google.Protobuf;

namespace NodeAgent.Rpc;

/// <summary>How many messages each side of a call sends.</summary>
public enum MethodType
{
    Unary,
    ServerStreaming,
}

/// <summary>
/// One RPC of a service: its path on the wire and how its messages are parsed. Client and server share it.
/// </summary>
public sealed class Method<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    internal Method(MethodType type, string serviceName, string name, MessageParser<TRequest> requestParser, MessageParser<TResponse> responseParser)
    {
        Type = type;
        ServiceName = serviceName;
        Name = name;
        Path = "/" + serviceName + "/" + name;
        RequestParser = requestParser;
        ResponseParser = responseParser;
    }

    public MethodType Type { get; }

    /// <summary>The fully qualified service name, e.g. <c>nodeagent.v1.HostService</c>.</summary>
    public string ServiceName { get; }

    public string Name { get; }

    /// <summary>The HTTP/2 <c>:path</c>, e.g. <c>/nodeagent.v1.HostService/ListHosts</c>.</summary>
    public string Path { get; }

    public MessageParser<TRequest> RequestParser { get; }

    public MessageParser<TResponse> ResponseParser { get; }

    public override string ToString() => Path;
}

/// <summary>Creates method descriptors.</summary>
public static class Method
{
    public static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string serviceName, string name, MessageParser<TRequest> requestParser, MessageParser<TResponse> responseParser)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(MethodType.Unary, serviceName, name, requestParser, responseParser);

    public static Method<TRequest, TResponse> ServerStreaming<TRequest, TResponse>(string serviceName, string name, MessageParser<TRequest> requestParser, MessageParser<TResponse> responseParser)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(MethodType.ServerStreaming, serviceName, name, requestParser, responseParser);
}
