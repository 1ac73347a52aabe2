using System.Net;
using System.Net.Sockets;
using System.Text;
using NodeAgent.Metrics;

namespace NodeAgent.Tests.Metrics;

/// <summary>The agent's socket responder over real loopback TCP, with HttpClient and with raw bytes.</summary>
public sealed class MetricsHttpServerTests : IAsyncLifetime
{
    private readonly MetricsRegistry _registry = new();
    private MetricsHttpServer _server = null!;

    private Uri Base => new($"http://127.0.0.1:{_server.EndPoint.Port}");

    public Task InitializeAsync()
    {
        _registry.CreateGauge("t_value", "A value.").Set(42);
        _server = new MetricsHttpServer(new IPEndPoint(IPAddress.Loopback, 0), _registry.RenderUtf8);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact(Timeout = 10_000)]
    public async Task Get_Metrics_Returns200WithTextFormat()
    {
        using var client = new HttpClient();

        using var response = await client.GetAsync(new Uri(Base, "/metrics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TextFormat.ContentType, response.Content.Headers.ContentType?.ToString());
        Assert.True(response.Headers.ConnectionClose);
        Assert.Contains("t_value 42\n", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Head_Metrics_HasLengthButNoBody()
    {
        var (head, body) = await RawAsync("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {_registry.RenderUtf8().Length}\r\n", head, StringComparison.Ordinal);
        Assert.Empty(body);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("/")]
    [InlineData("/metricsx")]
    [InlineData("/v1/images")]
    public async Task Get_OtherPath_Returns404(string path)
    {
        using var client = new HttpClient();

        using var response = await client.GetAsync(new Uri(Base, path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact(Timeout = 10_000)]
    public async Task Post_Metrics_Returns405WithAllow()
    {
        var (head, _) = await RawAsync("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 405 ", head, StringComparison.Ordinal);
        Assert.Contains("Allow: GET, HEAD\r\n", head, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Request_OverTheSizeLimit_Returns431()
    {
        var huge = "GET /metrics HTTP/1.1\r\nX-Padding: " + new string('a', MetricsHttpServer.MaxRequestBytes) + "\r\n\r\n";

        var (head, _) = await RawAsync(huge);

        Assert.StartsWith("HTTP/1.1 431 ", head, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Request_NotHttp_Returns400()
    {
        var (head, _) = await RawAsync("hello\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_ManyAtOnce_AllAnsweredInFull()
    {
        using var client = new HttpClient();
        var expected = Encoding.UTF8.GetString(_registry.RenderUtf8());

        var bodies = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetStringAsync(new Uri(Base, "/metrics"))));

        Assert.All(bodies, body => Assert.Equal(expected, body));
    }

    [Fact]
    public void ListenAddress_Forms_AreParsedOrRefused()
    {
        Assert.Null(MetricsListenAddress.Parse("none"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9177), MetricsListenAddress.Parse("127.0.0.1:9177"));
        Assert.Equal(new IPEndPoint(IPAddress.Any, 9177), MetricsListenAddress.Parse("http://0.0.0.0:9177"));
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Any, 9177), MetricsListenAddress.Parse("[::]:9177"));
        Assert.Contains("IP:PORT", Assert.Throws<FormatException>(() => MetricsListenAddress.Parse("localhost:9177")).Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => MetricsListenAddress.Parse("127.0.0.1"));
    }

    /// <summary>Sends <paramref name="request"/> as is and reads until the server closes: the head and the body.</summary>
    private async Task<(string Head, string Body)> RawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _server.EndPoint.Port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        }
        catch (IOException)
        {
            // The server may answer and close before an oversized request is fully sent.
        }

        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return split < 0 ? (text, string.Empty) : (text[..(split + 2)], text[(split + 4)..]);
    }
}
