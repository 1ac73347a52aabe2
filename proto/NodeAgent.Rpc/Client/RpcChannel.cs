using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace NodeAgent.Rpc.Client;

/// <summary>
/// A client connection to one gRPC server over HTTP/2 (h2c for <c>http://</c>, TLS for <c>https://</c>).
/// Calls are multiplexed as streams of one connection. Thread-safe; meant to live as long as the program.
/// </summary>
public sealed class RpcChannel : IDisposable
{
    private static readonly string UserAgent = "nodeagent-rpc/" + typeof(RpcChannel).Assembly.GetName().Version?.ToString(3);
    private readonly HttpMessageInvoker _invoker;
    private readonly string _baseAddress;
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    public RpcChannel(Uri address, RpcChannelOptions? options = null)
        : this(address, options, handler: null)
    {
    }

    internal RpcChannel(Uri address, RpcChannelOptions? options, HttpMessageHandler? handler)
    {
        if (address.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{address}' is not a gRPC address; use http://HOST:PORT (h2c) or https://HOST:PORT (TLS)", nameof(address));
        }

        Address = address;
        Options = options ?? new RpcChannelOptions();
        _baseAddress = address.GetLeftPart(UriPartial.Authority);
        _invoker = new HttpMessageInvoker(handler ?? CreateHandler(Options), disposeHandler: true);
    }

    public Uri Address { get; }

    public RpcChannelOptions Options { get; }

    /// <summary>Parses an address such as <c>http://127.0.0.1:7700</c>, with a message that says what is wrong.</summary>
    public static Uri ParseAddress(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && !string.IsNullOrEmpty(uri.Host)
            ? uri
            : throw new FormatException($"'{value}' is not a server address; expected http://HOST:PORT or https://HOST:PORT");

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var call = new ClientCall(this, method.Path, options);
        using var response = await call.SendAsync(CreateRequest(method.Path, request, call));
        var message = await call.ReadMessageAsync(method.ResponseParser);
        if (message is null)
        {
            call.ThrowIfNotOk();
            throw ClientCall.Failure(StatusCode.Internal, "the server ended a unary call without sending a response message");
        }

        if (await call.ReadMessageAsync(method.ResponseParser) is not null)
        {
            throw ClientCall.Failure(StatusCode.Internal, "the server sent a second response message on a unary call");
        }

        call.ThrowIfNotOk();
        return message;
    }

    /// <summary>
    /// Starts a server-streaming call and yields its messages as they arrive. Leaving the loop early cancels
    /// the call on the server. A status other than OK at the end is thrown as <see cref="RpcException"/>.
    /// </summary>
    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
        Method<TRequest, TResponse> method, TRequest request, CallOptions options = default, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        if (cancellationToken.CanBeCanceled)
        {
            options = options with { CancellationToken = cancellationToken };
        }

        using var call = new ClientCall(this, method.Path, options);
        using var response = await call.SendAsync(CreateRequest(method.Path, request, call));
        while (await call.ReadMessageAsync(method.ResponseParser) is { } message)
        {
            yield return message;
        }

        call.ThrowIfNotOk();
    }

    public void Dispose() => _invoker.Dispose();

    internal Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _invoker.SendAsync(request, cancellationToken);

    private HttpRequestMessage CreateRequest(string path, IMessage message, ClientCall call)
    {
        var size = message.CalculateSize();
        if (size > Options.MaxSendMessageSize)
        {
            throw ClientCall.Failure(StatusCode.ResourceExhausted,
                $"request message of {size} bytes exceeds the client's limit of {Options.MaxSendMessageSize} bytes; send less per call");
        }

        var frame = new byte[GrpcProtocol.FrameHeaderSize + size];
        GrpcProtocol.WriteFrameHeader(frame, size);
        message.WriteTo(frame.AsSpan(GrpcProtocol.FrameHeaderSize));

        var request = new HttpRequestMessage(HttpMethod.Post, _uris.GetOrAdd(path, static (p, b) => new Uri(b + p), _baseAddress))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", GrpcProtocol.ContentType);
        var headers = request.Headers;
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", UserAgent);
        if (call.Timeout is { } timeout)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(timeout));
        }

        AddMetadata(headers, Options.DefaultHeaders);
        AddMetadata(headers, call.Headers);
        return request;
    }

    private static void AddMetadata(HttpRequestHeaders headers, Metadata? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        foreach (var (key, value) in metadata)
        {
            headers.TryAddWithoutValidation(key, value);
        }
    }

    private static SocketsHttpHandler CreateHandler(RpcChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
        };
        if (options.ServerCertificateValidation is { } validate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = validate;
        }

        return handler;
    }
}
