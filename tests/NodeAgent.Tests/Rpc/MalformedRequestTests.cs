using System.Net;
using Google.Protobuf;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Rpc;

/// <summary>Requests no well-behaved client sends, written byte by byte over a raw HTTP/2 client.</summary>
public sealed class MalformedRequestTests : IAsyncLifetime
{
    private TestRpcServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(new EchoService()));
        _http = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 10_000)]
    public async Task TruncatedMessage_Internal()
    {
        var body = Frame(new GetHostRequest { HostId = "abc" }.ToByteArray())[..6];

        var (_, status, message) = await SendAsync(body);

        Assert.Equal(StatusCode.Internal, status);
        Assert.Contains("ended inside a message", message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CompressedFlagWithoutEncoding_Internal()
    {
        var body = Frame(new GetHostRequest { HostId = "abc" }.ToByteArray());
        body[0] = 1;

        var (_, status, message) = await SendAsync(body);

        Assert.Equal(StatusCode.Internal, status);
        Assert.Contains("compressed", message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task InvalidProtobuf_InvalidArgument()
    {
        var (_, status, message) = await SendAsync(Frame([0xFF, 0xFF, 0xFF]));

        Assert.Equal(StatusCode.InvalidArgument, status);
        Assert.Contains("nodeagent.v1.GetHostRequest", message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task TwoMessagesOnAUnaryCall_Internal()
    {
        var one = Frame(new GetHostRequest { HostId = "a" }.ToByteArray());

        var (_, status, _) = await SendAsync([.. one, .. one]);

        Assert.Equal(StatusCode.Internal, status);
    }

    [Fact(Timeout = 10_000)]
    public async Task NoMessage_Internal()
    {
        var (_, status, message) = await SendAsync([]);

        Assert.Equal(StatusCode.Internal, status);
        Assert.Contains("no message", message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task UnsupportedEncoding_UnimplementedAndAdvertisesIdentity()
    {
        using var request = Request(Frame([]));
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");

        using var response = await _http.SendAsync(request);

        Assert.Equal("12", Header(response, "grpc-status"));
        Assert.Equal("identity", Header(response, "grpc-accept-encoding"));
    }

    [Fact(Timeout = 10_000)]
    public async Task MalformedTimeout_Internal()
    {
        using var request = Request(Frame([]));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "soon");

        using var response = await _http.SendAsync(request);

        Assert.Equal("13", Header(response, "grpc-status"));
    }

    [Fact(Timeout = 10_000)]
    public async Task NotGrpcContentType_Http415()
    {
        using var request = Request([]);
        request.Content!.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact(Timeout = 10_000)]
    public async Task MalformedCall_OtherCallsOnTheConnectionAreUnaffected()
    {
        using var channel = _server.CreateChannel();
        var good = Enumerable.Range(0, 20).Select(i => channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = $"g{i}" })).ToList();
        var bad = Enumerable.Range(0, 20).Select(_ => SendAsync(Frame([0xFF, 0xFF]))).ToList();

        var goodResults = await Task.WhenAll(good);
        var badResults = await Task.WhenAll(bad);

        Assert.All(badResults, r => Assert.Equal(StatusCode.InvalidArgument, r.Status));
        Assert.Equal(20, goodResults.Select(r => r.Info.HostId).Distinct().Count());
    }

    private static byte[] Frame(byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        GrpcProtocol.WriteFrameHeader(frame, payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    private HttpRequestMessage Request(byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server.Address, EchoService.Unary.Path))
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    private async Task<(HttpStatusCode Http, StatusCode Status, string Message)> SendAsync(byte[] body)
    {
        using var request = Request(body);
        using var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        var status = Header(response, "grpc-status") ?? throw new InvalidOperationException("no grpc-status");
        return (response.StatusCode, (StatusCode)int.Parse(status, System.Globalization.CultureInfo.InvariantCulture),
            GrpcProtocol.DecodeMessage(Header(response, "grpc-message")));
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First()
        : response.TrailingHeaders.TryGetValues(name, out var trailers) ? trailers.First()
        : null;
}
