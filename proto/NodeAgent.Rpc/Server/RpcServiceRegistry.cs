using System.Collections.Frozen;
using Google.Protobuf;

namespace NodeAgent.Rpc.Server;

/// <summary>A service implementation that can list its methods with a registry.</summary>
public interface IRpcService
{
    void Bind(RpcServiceRegistry registry);
}

/// <summary>Collects the methods a server answers, by path.</summary>
public sealed class RpcServiceRegistry
{
    private readonly Dictionary<string, IServerCallHandler> _handlers = new(StringComparer.Ordinal);

    public RpcServiceRegistry Add(IRpcService service)
    {
        service.Bind(this);
        return this;
    }

    public RpcServiceRegistry AddUnary<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryHandler<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        if (method.Type != MethodType.Unary)
        {
            throw new ArgumentException($"{method} is not a unary method", nameof(method));
        }

        return Add(method.Path, new UnaryCallHandler<TRequest, TResponse>(method, handler));
    }

    public RpcServiceRegistry AddServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingHandler<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        if (method.Type != MethodType.ServerStreaming)
        {
            throw new ArgumentException($"{method} is not a server-streaming method", nameof(method));
        }

        return Add(method.Path, new ServerStreamingCallHandler<TRequest, TResponse>(method, handler));
    }

    public IReadOnlyCollection<string> Paths => _handlers.Keys;

    internal FrozenDictionary<string, IServerCallHandler> Freeze() => _handlers.ToFrozenDictionary(StringComparer.Ordinal);

    private RpcServiceRegistry Add(string path, IServerCallHandler handler)
    {
        if (!_handlers.TryAdd(path, handler))
        {
            throw new InvalidOperationException($"{path} is registered twice");
        }

        return this;
    }
}
