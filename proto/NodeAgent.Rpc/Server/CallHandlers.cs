using Google.Protobuf;

namespace NodeAgent.Rpc.Server;

internal interface IServerCallHandler
{
    Task HandleAsync(ServerCall call);
}

internal sealed class UnaryCallHandler<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryHandler<TRequest, TResponse> handler)
    : IServerCallHandler
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private readonly string _requestType = method.RequestParser.ParseFrom(ByteString.Empty).Descriptor.FullName;

    public async Task HandleAsync(ServerCall call)
    {
        var request = await call.ReadSingleRequestAsync(method.RequestParser, _requestType);
        var response = await handler(request, call.Context);
        call.Context.CancellationToken.ThrowIfCancellationRequested();
        await call.WriteMessageAsync(response, call.Context.CancellationToken);
    }
}

internal sealed class ServerStreamingCallHandler<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingHandler<TRequest, TResponse> handler)
    : IServerCallHandler
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private readonly string _requestType = method.RequestParser.ParseFrom(ByteString.Empty).Descriptor.FullName;

    public async Task HandleAsync(ServerCall call)
    {
        var request = await call.ReadSingleRequestAsync(method.RequestParser, _requestType);
        await handler(request, new StreamWriter(call), call.Context);
    }

    private sealed class StreamWriter(ServerCall call) : IServerStreamWriter<TResponse>
    {
        public Task WriteAsync(TResponse message, CancellationToken cancellationToken = default)
        {
            if (cancellationToken.CanBeCanceled && cancellationToken != call.Context.CancellationToken)
            {
                return WriteLinkedAsync(message, cancellationToken);
            }

            return call.WriteMessageAsync(message, call.Context.CancellationToken);
        }

        private async Task WriteLinkedAsync(TResponse message, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call.Context.CancellationToken);
            await call.WriteMessageAsync(message, linked.Token);
        }
    }
}
