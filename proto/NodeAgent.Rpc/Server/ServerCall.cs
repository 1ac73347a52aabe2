using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace NodeAgent.Rpc.Server;

/// <summary>
/// One call on the server: reads the request frames, writes response frames, and ends the call with a
/// status — in trailers, or as a trailers-only response when nothing was sent yet.
/// </summary>
internal sealed class ServerCall : IDisposable
{
    private readonly RpcServerOptions _options;
    private readonly CancellationTokenSource _cancellation;
    private readonly CancellationTokenSource? _deadline;
    private readonly long _startTimestamp;
    private bool _responseStarted;

    public ServerCall(HttpContext httpContext, string method, RpcServerOptions options, TimeSpan? timeout)
    {
        HttpContext = httpContext;
        _options = options;
        _startTimestamp = options.TimeProvider.GetTimestamp();
        DateTimeOffset? deadline = null;
        if (timeout is { } t)
        {
            // A timer of its own, so "the deadline passed" means exactly "this timer fired", never a clock comparison
            // that a timer firing a millisecond early could get wrong.
            deadline = options.TimeProvider.GetUtcNow() + t;
            _deadline = new CancellationTokenSource(t, options.TimeProvider);
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted, _deadline.Token);
        }
        else
        {
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted);
        }

        Context = new ServerCallContext(httpContext, method, deadline, _cancellation.Token);
    }

    public HttpContext HttpContext { get; }

    public ServerCallContext Context { get; }

    public TimeSpan Elapsed => _options.TimeProvider.GetElapsedTime(_startTimestamp);

    public bool DeadlinePassed => _deadline?.IsCancellationRequested == true;

    public bool ClientGone => HttpContext.RequestAborted.IsCancellationRequested;

    /// <summary>Reads the one request message of a call and checks that no second one follows.</summary>
    public async Task<T> ReadSingleRequestAsync<T>(MessageParser<T> parser, string typeName)
        where T : IMessage<T>
    {
        var reader = HttpContext.Request.BodyReader;
        var token = Context.CancellationToken;
        T? message = default;
        var count = 0;
        while (true)
        {
            var result = await reader.ReadAsync(token);
            var buffer = result.Buffer;
            while (TryReadFrame(ref buffer, out var payload))
            {
                if (++count > 1)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new RpcException(StatusCode.Internal, $"a second request message arrived on a call that takes one {typeName}");
                }

                message = Parse(parser, payload, typeName);
            }

            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    throw new RpcException(StatusCode.Internal,
                        $"the request ended inside a message: {buffer.Length} bytes of an incomplete {typeName} frame");
                }

                reader.AdvanceTo(buffer.End);
                return count == 1
                    ? message!
                    : throw new RpcException(StatusCode.Internal, $"the request carried no message; the call takes one {typeName}");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes one response message and flushes it to the client.</summary>
    public async Task WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        var size = message.CalculateSize();
        if (size > _options.MaxSendMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"response message of {size} bytes exceeds the server's limit of {_options.MaxSendMessageSize} bytes; ask for less per call");
        }

        if (!_responseStarted)
        {
            HttpContext.Response.ContentType = GrpcProtocol.ContentType;
            _responseStarted = true;
        }

        var writer = HttpContext.Response.BodyWriter;
        var span = writer.GetSpan(GrpcProtocol.FrameHeaderSize + size);
        GrpcProtocol.WriteFrameHeader(span, size);
        message.WriteTo(span.Slice(GrpcProtocol.FrameHeaderSize, size));
        writer.Advance(GrpcProtocol.FrameHeaderSize + size);
        var flush = await writer.FlushAsync(cancellationToken);
        if (flush.IsCanceled || flush.IsCompleted)
        {
            throw new OperationCanceledException("the client went away while a response was written");
        }
    }

    /// <summary>Ends the call with a status: in trailers after messages, or trailers-only when none was sent.</summary>
    public void Complete(StatusCode status, string? message)
    {
        var response = HttpContext.Response;
        if (!_responseStarted && !response.HasStarted)
        {
            WriteTrailersOnly(response, status, message);
            return;
        }

        if (HttpContext.Features.Get<IHttpResponseTrailersFeature>() is { } trailers)
        {
            trailers.Trailers[GrpcProtocol.StatusHeader] = StatusText(status);
            if (!string.IsNullOrEmpty(message))
            {
                trailers.Trailers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
            }
        }
    }

    /// <summary>A response that is only a status: HEADERS with END_STREAM, no messages, no trailers.</summary>
    public static void WriteTrailersOnly(HttpResponse response, StatusCode status, string? message)
    {
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.StatusHeader] = StatusText(status);
        if (!string.IsNullOrEmpty(message))
        {
            response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
        }
    }

    public void Dispose()
    {
        _cancellation.Dispose();
        _deadline?.Dispose();
    }

    private static string StatusText(StatusCode status) => status switch
    {
        StatusCode.OK => "0",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < GrpcProtocol.FrameHeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[GrpcProtocol.FrameHeaderSize];
        buffer.Slice(0, GrpcProtocol.FrameHeaderSize).CopyTo(header);
        var length = GrpcProtocol.ReadFrameHeader(header, _options.MaxReceiveMessageSize, "request");
        if (buffer.Length < GrpcProtocol.FrameHeaderSize + length)
        {
            return false;
        }

        payload = buffer.Slice(GrpcProtocol.FrameHeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload, string typeName)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"the request is not a valid {typeName} message: {e.Message}");
        }
    }
}
