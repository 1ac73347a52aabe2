using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace NodeAgent.Rpc.Client;

/// <summary>
/// A client connection to a gRPC server over HTTP/2 (h2c for <c>http://</c>, TLS for <c>https://</c>). Calls are
/// multiplexed as streams of one connection. Given several addresses (replicas of one service), calls go to one
/// of them; when it cannot be connected to at all, the call is sent to the next, which then serves the calls that
/// follow. A call that reached a server is never sent again: only one that no server saw fails over.
/// Thread-safe; meant to live as long as the program.
/// </summary>
public sealed class RpcChannel : IDisposable
{
    private static readonly string UserAgent = "nodeagent-rpc/" + typeof(RpcChannel).Assembly.GetName().Version?.ToString(3);
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri[] _addresses;
    private readonly string[] _baseAddresses;
    private readonly ConcurrentDictionary<(int, string), Uri> _uris = new();
    private int _current;

    public RpcChannel(Uri address, RpcChannelOptions? options = null)
        : this([address], options, handler: null)
    {
    }

    /// <param name="addresses">Replicas of one service, tried in this order from the first.</param>
    public RpcChannel(IReadOnlyList<Uri> addresses, RpcChannelOptions? options = null)
        : this(addresses, options, handler: null)
    {
    }

    internal RpcChannel(Uri address, RpcChannelOptions? options, HttpMessageHandler? handler)
        : this([address], options, handler)
    {
    }

    internal RpcChannel(IReadOnlyList<Uri> addresses, RpcChannelOptions? options, HttpMessageHandler? handler)
    {
        if (addresses.Count == 0)
        {
            throw new ArgumentException("no server address given; use http://HOST:PORT (h2c) or https://HOST:PORT (TLS)", nameof(addresses));
        }

        foreach (var address in addresses)
        {
            if (address.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"'{address}' is not a gRPC address; use http://HOST:PORT (h2c) or https://HOST:PORT (TLS)", nameof(addresses));
            }
        }

        _addresses = [.. addresses];
        _baseAddresses = [.. addresses.Select(a => a.GetLeftPart(UriPartial.Authority))];
        Options = options ?? new RpcChannelOptions();
        _invoker = new HttpMessageInvoker(handler ?? CreateHandler(Options), disposeHandler: true);
    }

    /// <summary>The address calls go to now.</summary>
    public Uri Address => _addresses[Volatile.Read(ref _current)];

    /// <summary>Every address, in the order they are tried.</summary>
    public IReadOnlyList<Uri> Addresses => _addresses;

    public RpcChannelOptions Options { get; }

    /// <summary>
    /// Parses a comma-separated list of addresses (replicas of one service, e.g.
    /// <c>http://s1:7700,http://s2:7700</c>), with a message that says what is wrong.
    /// </summary>
    public static IReadOnlyList<Uri> ParseAddresses(string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        return parts.Any(p => p.Length == 0)
            ? throw new FormatException($"'{value}' has an empty address; separate addresses with single commas, e.g. http://s1:7700,http://s2:7700")
            : [.. parts.Select(ParseAddress)];
    }

    /// <summary>Parses an address such as <c>http://127.0.0.1:7700</c>, with a message that says what is wrong.</summary>
    public static Uri ParseAddress(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && !string.IsNullOrEmpty(uri.Host)
            ? uri
            : throw new FormatException($"'{value}' is not a server address; expected http://HOST:PORT or https://HOST:PORT");

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var call = await ConnectAsync(method.Path, request, options);
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

        using var call = await ConnectAsync(method.Path, request, options);
        while (await call.ReadMessageAsync(method.ResponseParser) is { } message)
        {
            yield return message;
        }

        call.ThrowIfNotOk();
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>
    /// Sends the request to the current address, or, when no connection to it can be made, to the next one (which
    /// becomes current), until every address was tried once. Returns the call with its response headers read.
    /// </summary>
    private async Task<ClientCall> ConnectAsync(string path, IMessage request, CallOptions options)
    {
        var first = Volatile.Read(ref _current);
        for (var attempt = 0; ; attempt++)
        {
            var index = (first + attempt) % _addresses.Length;
            var call = new ClientCall(this, _addresses[index], path, options);
            try
            {
                await call.SendAsync(CreateRequest(index, path, request, call));
                return call;
            }
            catch (RpcException e) when (NeverConnected(e) && _addresses.Length > 1)
            {
                call.Dispose();
                if (attempt + 1 == _addresses.Length)
                {
                    throw new RpcException(StatusCode.Unavailable,
                        $"cannot reach any of {string.Join(", ", _addresses.Select(a => a.ToString()))}; the last said: {e.Message}", e);
                }

                Interlocked.CompareExchange(ref _current, (index + 1) % _addresses.Length, index);
            }
            catch
            {
                call.Dispose();
                throw;
            }
        }
    }

    /// <summary>True when the call failed before any connection to the server was made, so no server saw it.</summary>
    private static bool NeverConnected(RpcException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return true;
            }
        }

        return false;
    }

    internal Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _invoker.SendAsync(request, cancellationToken);

    private HttpRequestMessage CreateRequest(int address, string path, IMessage message, ClientCall call)
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

        var request = new HttpRequestMessage(HttpMethod.Post, _uris.GetOrAdd((address, path), static (key, bases) => new Uri(bases[key.Item1] + key.Item2), _baseAddresses))
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
        AddMetadata(headers, Options.HeadersPerCall?.Invoke());
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

        if (options.ClientCertificate is { } certificate)
        {
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate()!;
        }

        return handler;
    }
}
