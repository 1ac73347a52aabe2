using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace NodeAgent.Rpc.Client;

/// <summary>
/// One call on the client: sends the request, reads length-prefixed messages, and reads the final status
/// from trailers (or from the headers of a trailers-only response). Every failure — transport, deadline,
/// cancellation, protocol — becomes an <see cref="RpcException"/> here and nowhere else.
/// </summary>
internal sealed class ClientCall : IDisposable
{
    private readonly RpcChannel _channel;
    private readonly string _path;
    private readonly CancellationTokenSource? _deadline;
    private readonly CancellationTokenSource _linked;
    private readonly CancellationToken _userToken;
    private readonly CancellationToken _token;
    private readonly byte[] _header = new byte[GrpcProtocol.FrameHeaderSize];
    private HttpResponseMessage? _response;
    private Stream? _body;
    private (StatusCode Code, string Message)? _status;

    public ClientCall(RpcChannel channel, string path, CallOptions options)
        : this(channel, channel.Address, path, options)
    {
    }

    /// <param name="target">The server of the channel's addresses this call goes to; errors name it.</param>
    public ClientCall(RpcChannel channel, Uri target, string path, CallOptions options)
    {
        _channel = channel;
        Target = target;
        _path = path;
        Headers = options.Headers;
        Timeout = options.Timeout;
        _userToken = options.CancellationToken;
        if (options.Timeout is { } timeout)
        {
            _deadline = new CancellationTokenSource(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout, channel.Options.TimeProvider);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(_deadline.Token, _userToken);
        }
        else
        {
            _linked = CancellationTokenSource.CreateLinkedTokenSource(_userToken);
        }

        // Also cancelled when the caller leaves before the call has ended (Dispose), which resets the HTTP/2 stream.
        _token = _linked.Token;
    }

    public TimeSpan? Timeout { get; }

    public Metadata? Headers { get; }

    /// <summary>The server this call goes to.</summary>
    public Uri Target { get; }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        if (_deadline?.IsCancellationRequested == true)
        {
            throw Failure(StatusCode.DeadlineExceeded, DeadlineMessage());
        }

        try
        {
            _response = await _channel.SendRawAsync(request, _token);
        }
        catch (Exception ex)
        {
            request.Dispose();
            throw Map(ex);
        }

        var response = _response;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw Failure(GrpcProtocol.FromHttpStatus((int)response.StatusCode),
                $"the server answered HTTP {(int)response.StatusCode} {response.ReasonPhrase} instead of a gRPC response; is {Target} a NodeAgent gRPC endpoint?");
        }

        if (TryReadStatus(response.Headers) is { } trailersOnly)
        {
            _status = trailersOnly;
            return response;
        }

        var contentType = response.Content.Headers.ContentType?.ToString();
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            throw Failure(StatusCode.Internal, $"the server answered with content-type '{contentType}', not {GrpcProtocol.ContentType}");
        }

        try
        {
            _body = await response.Content.ReadAsStreamAsync(_token);
        }
        catch (Exception ex)
        {
            throw Map(ex);
        }

        return response;
    }

    /// <summary>The next message, or null once the server has ended the stream (the status is then known).</summary>
    public async Task<T?> ReadMessageAsync<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        if (_body is null)
        {
            return default;
        }

        try
        {
            var read = await ReadFullyAsync(_header);
            if (read == 0)
            {
                ReadTrailers();
                return default;
            }

            if (read < _header.Length)
            {
                throw Failure(StatusCode.Internal, "the response ended inside a message header");
            }

            var length = GrpcProtocol.ReadFrameHeader(_header, _channel.Options.MaxReceiveMessageSize, "response");
            var payload = new byte[length];
            if (await ReadFullyAsync(payload) < length)
            {
                throw Failure(StatusCode.Internal, $"the response ended inside a message of {length} bytes");
            }

            return parser.ParseFrom(payload);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex);
        }
    }

    /// <summary>Throws the call's final status unless it is OK.</summary>
    public void ThrowIfNotOk()
    {
        var (code, message) = _status ?? (StatusCode.Internal, "the server closed the call without a grpc-status");
        if (code != StatusCode.OK)
        {
            throw Failure(code, message);
        }
    }

    public static RpcException Failure(StatusCode code, string message) => new(code, message);

    public void Dispose()
    {
        if (_status is null && _response is not null)
        {
            // The caller stopped before the server ended the call: cancel it, so the server's handler stops too.
            _linked.Cancel();
        }

        // Disposing the unfinished body stream is what resets the HTTP/2 stream (RST_STREAM CANCEL) right now,
        // instead of whenever the stream object happens to be collected.
        _body?.Dispose();
        _response?.Dispose();
        _linked.Dispose();
        _deadline?.Dispose();
    }

    private async ValueTask<int> ReadFullyAsync(byte[] buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await _body!.ReadAsync(buffer.AsMemory(total), _token);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private void ReadTrailers() =>
        _status = TryReadStatus(_response!.TrailingHeaders)
            ?? (StatusCode.Internal, "the server ended the response without a grpc-status trailer");

    private static (StatusCode, string)? TryReadStatus(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var statusValues))
        {
            return null;
        }

        var text = statusValues.FirstOrDefault();
        var code = int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? (StatusCode)n
            : StatusCode.Unknown;
        var message = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messageValues)
            ? GrpcProtocol.DecodeMessage(messageValues.FirstOrDefault())
            : string.Empty;
        return (code, message);
    }

    private string DeadlineMessage() =>
        $"{_path}: the deadline of {Timeout?.TotalMilliseconds:0.###} ms passed before the server answered; retry with a longer timeout";

    private RpcException Map(Exception ex)
    {
        if (ex is RpcException rpc)
        {
            return rpc;
        }

        if (_deadline?.IsCancellationRequested == true)
        {
            return new RpcException(StatusCode.DeadlineExceeded, DeadlineMessage(), ex);
        }

        if (_userToken.IsCancellationRequested)
        {
            return new RpcException(StatusCode.Cancelled, $"{_path}: the call was cancelled", ex);
        }

        return ex switch
        {
            InvalidProtocolBufferException => new RpcException(StatusCode.Internal, $"{_path}: the server's response is not a valid message: {ex.Message}", ex),
            HttpProtocolException { ErrorCode: 8 } => new RpcException(StatusCode.Cancelled, $"{_path}: the server cancelled the call", ex),
            HttpProtocolException p => new RpcException(StatusCode.Internal, $"{_path}: HTTP/2 protocol error {p.ErrorCode} from {Target}: {p.Message}", ex),
            _ when Innermost(ex) is System.Security.Authentication.AuthenticationException tls => new RpcException(StatusCode.Unavailable,
                $"TLS handshake with {Target} failed: {tls.Message}; if the server's certificate comes from a private CA, configure that CA as trusted", ex),
            HttpRequestException or IOException or OperationCanceledException => new RpcException(StatusCode.Unavailable,
                $"cannot reach {Target} ({Innermost(ex).Message}); check that the server runs and that the address is right", ex),
            _ => new RpcException(StatusCode.Unknown, $"{_path}: {ex.Message}", ex),
        };
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
