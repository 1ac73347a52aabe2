using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Rpc;

/// <summary>Our client against our server over real HTTP/2 on loopback.</summary>
public sealed class TransportTests : IAsyncLifetime
{
    private readonly EchoService _service = new();
    private TestRpcServer _server = null!;
    private RpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _server = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(_service));
        _channel = _server.CreateChannel(new RpcChannelOptions { MaxSendMessageSize = 16 << 20 });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_Request_ReturnsResponseAndMetadataArrives()
    {
        var headers = new Metadata { { "x-caller", "alice" } };

        var host = await _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "h1" }, new CallOptions { Headers = headers });

        Assert.Equal("h1", host.Info.HostId);
        Assert.Equal("alice", host.Info.Hostname);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_ServerThrowsRpcException_ClientGetsCodeAndNonAsciiMessage()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "fail" }));

        Assert.Equal(StatusCode.FailedPrecondition, error.Status);
        Assert.Equal("100% full: disk /var/lib/nodeagent — free space ü", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_HandlerCrashes_InternalWithoutLeakingTheException()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "crash" }));

        Assert.Equal(StatusCode.Internal, error.Status);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
        Assert.Contains("server log", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_DeadlinePasses_DeadlineExceededAndServerHandlerIsCancelled()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "slow" }, CallOptions.WithTimeout(TimeSpan.FromMilliseconds(300))));

        Assert.Equal(StatusCode.DeadlineExceeded, error.Status);
        var deadline = await _service.DeadlineSeen.Task;
        Assert.NotNull(deadline);
        var serverWaited = await _service.ServerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.InRange(serverWaited, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_CallerCancels_CancelledAndServerHandlerIsCancelled()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "slow" }, new CallOptions { CancellationToken = cts.Token }));

        Assert.Equal(StatusCode.Cancelled, error.Status);
        await _service.ServerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_RequestOverServerLimit_ResourceExhaustedAndServerStillServes()
    {
        var request = new GetHostRequest { HostId = new string('a', 5 << 20) };

        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(EchoService.Unary, request));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("4194304", error.Message, StringComparison.Ordinal);
        var after = await _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "after" });
        Assert.Equal("after", after.Info.HostId);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_ResponseOverClientLimit_ResourceExhausted()
    {
        using var small = _server.CreateChannel(new RpcChannelOptions { MaxReceiveMessageSize = 1024 });

        var error = await Assert.ThrowsAsync<RpcException>(() => small.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "big:4096" }));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_ResponseOverServerSendLimit_ResourceExhausted()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "big:5000000" }));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("server's limit", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_UnknownMethod_Unimplemented()
    {
        var unknown = Method.Unary("nodeagent.test.Echo", "Missing", GetHostRequest.Parser, Host.Parser);

        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(unknown, new GetHostRequest()));

        Assert.Equal(StatusCode.Unimplemented, error.Status);
        Assert.Contains("/nodeagent.test.Echo/Missing", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_NothingListens_UnavailableNamingTheAddress()
    {
        using var nowhere = new RpcChannel(new Uri("http://127.0.0.1:1"));

        var error = await Assert.ThrowsAsync<RpcException>(() => nowhere.UnaryAsync(EchoService.Unary, new GetHostRequest()));

        Assert.Equal(StatusCode.Unavailable, error.Status);
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Unary_ManyConcurrentCallsOnOneConnection_AllSucceed()
    {
        var calls = Enumerable.Range(0, 200).Select(i => _channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = $"c{i}" }));

        var results = await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"c{i}"), results.Select(r => r.Info.HostId));
    }

    [Fact(Timeout = 10_000)]
    public async Task ServerStreaming_Messages_ArriveInOrderThenOk()
    {
        var ids = new List<string>();
        await foreach (var host in _channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "count:5" }))
        {
            ids.Add(host.Info.HostId);
        }

        Assert.Equal(["h0", "h1", "h2", "h3", "h4"], ids);
    }

    [Fact(Timeout = 10_000)]
    public async Task ServerStreaming_NoMessagesAndError_TrailersOnlyStatus()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var unused in _channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "nope" }))
            {
            }
        });

        Assert.Equal(StatusCode.NotFound, error.Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task ServerStreaming_ErrorAfterMessages_MessagesThenStatus()
    {
        var received = new List<string>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var host in _channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "fail-after:1" }))
            {
                received.Add(host.Info.HostId);
            }
        });

        Assert.Equal(["only"], received);
        Assert.Equal(StatusCode.Unavailable, error.Status);
        Assert.Equal("scheduler is shutting down; reconnect", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task ServerStreaming_ClientStopsReading_ServerHandlerIsCancelled()
    {
        await foreach (var host in _channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "forever" }))
        {
            Assert.Equal("first", host.Info.HostId);
            break;
        }

        await _service.ServerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact(Timeout = 10_000)]
    public async Task ServerStreaming_Deadline_DeadlineExceededAfterFirstMessage()
    {
        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var unused in _channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "forever" }, CallOptions.WithTimeout(TimeSpan.FromMilliseconds(300))))
            {
                received++;
            }
        });

        Assert.Equal(1, received);
        Assert.Equal(StatusCode.DeadlineExceeded, error.Status);
        await _service.ServerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
