using System.Diagnostics;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Interop;

/// <summary>Our client calls a grpcio server (tests/interop/server.py) that implements the contract in Python.</summary>
public sealed class PythonServerTests : IClassFixture<PythonServerTests.PythonServer>
{
    private readonly PythonServer _server;

    public PythonServerTests(PythonServer server) => _server = server;

    private AgentServiceClient Agents => new(_server.Channel);

    private HostServiceClient Hosts => new(_server.Channel);

    [Fact(Timeout = 20_000)]
    public async Task Unary_RegisterThenList_RoundTripsEveryField()
    {
        var info = Scheduler.HostApiTests.Info("interop-host");

        var registered = await Agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        var listed = await Hosts.ListHostsAsync(new ListHostsRequest());

        Assert.Equal(TimeSpan.FromSeconds(5), registered.HeartbeatInterval.ToTimeSpan());
        Assert.Contains(listed.Hosts, h => h.Info.Equals(info));
    }

    [Fact(Timeout = 20_000)]
    public async Task Unary_Metadata_ArrivesAtTheServer()
    {
        var headers = new Metadata { { "authorization", "Bearer t0ken" }, { "x-request-id", "r-42" } };

        var echoed = await Hosts.GetHostAsync(new GetHostRequest { HostId = "whoami" }, new CallOptions { Headers = headers });

        Assert.Equal("Bearer t0ken", echoed.Info.Labels["authorization"]);
        Assert.Equal("r-42", echoed.Info.Labels["x-request-id"]);
    }

    [Fact(Timeout = 20_000)]
    public async Task Unary_ErrorStatus_CodeAndMessage()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Hosts.GetHostAsync(new GetHostRequest { HostId = "absent" }));

        Assert.Equal(StatusCode.NotFound, error.Status);
        Assert.Equal("host absent is not registered", error.Message);
    }

    [Fact(Timeout = 20_000)]
    public async Task Unary_PercentEncodedNonAsciiMessage_IsDecoded()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Hosts.GetHostAsync(new GetHostRequest { HostId = "bad-percent" }));

        Assert.Equal(StatusCode.FailedPrecondition, error.Status);
        Assert.Equal("100% füll: disk /var/lib/nodeagent is full; free space", error.Message);
    }

    [Fact(Timeout = EventuallyTimeoutMs)]
    public async Task Unary_Deadline_DeadlineExceededAndTheServerSeesTheCancellation()
    {
        var before = await CounterAsync("cancelled_calls");

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Hosts.GetHostAsync(new GetHostRequest { HostId = "slow" }, CallOptions.WithTimeout(TimeSpan.FromMilliseconds(300))));

        Assert.Equal(StatusCode.DeadlineExceeded, error.Status);
        await EventuallyAsync(async () => await CounterAsync("cancelled_calls") > before);
    }

    [Fact(Timeout = 20_000)]
    public async Task Unary_ResponseOverOurLimit_ResourceExhausted()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Hosts.GetHostAsync(new GetHostRequest { HostId = "huge" }));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
    }

    [Fact(Timeout = 20_000)]
    public async Task Unary_RequestOverTheirLimit_ResourceExhaustedFromGrpcio()
    {
        using var channel = new RpcChannel(_server.Channel.Address, new RpcChannelOptions { MaxSendMessageSize = 16 << 20 });
        var info = Scheduler.HostApiTests.Info("too-big");
        for (var i = 0; i < 80; i++)
        {
            info.Labels[$"l{i}"] = new string('x', 64 << 10);
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => new AgentServiceClient(channel).RegisterHostAsync(new RegisterHostRequest { Host = info }));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
    }

    [Fact(Timeout = 20_000)]
    public async Task ServerStreaming_ThreeMessages_InOrderThenOk()
    {
        var versions = new List<(ulong, int)>();
        await foreach (var desired in Agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "three" }))
        {
            versions.Add((desired.Version, desired.Workspaces.Count));
        }

        Assert.Equal([(1UL, 1), (2UL, 2), (3UL, 3)], versions);
    }

    [Fact(Timeout = 20_000)]
    public async Task ServerStreaming_ErrorAfterFirstMessage_MessageThenUnavailable()
    {
        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var unused in Agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "fail-after-one" }))
            {
                received++;
            }
        });

        Assert.Equal(1, received);
        Assert.Equal(StatusCode.Unavailable, error.Status);
    }

    [Fact(Timeout = EventuallyTimeoutMs)]
    public async Task ServerStreaming_WeStopReading_TheServerSeesTheCancellation()
    {
        var before = await CounterAsync("cancelled_streams");

        await foreach (var desired in Agents.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "forever" }))
        {
            Assert.Equal(1UL, desired.Version);
            break;
        }

        await EventuallyAsync(async () => await CounterAsync("cancelled_streams") > before);
    }

    private async Task<int> CounterAsync(string name)
    {
        var stats = await Hosts.GetHostAsync(new GetHostRequest { HostId = "stats" });
        return int.Parse(stats.Info.Labels[name], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The test's own limit, above <see cref="EventuallyAsync"/>'s window so a slow server fails as an assertion.</summary>
    private const int EventuallyTimeoutMs = 60_000;

    /// <summary>
    /// Polls for up to 40 s: on a loaded 2-core machine the Python server's thread can take seconds to run. Still
    /// inside the server's 60 s stream window (FOREVER_STREAM_SECONDS), so a client that never cancels fails here.
    /// </summary>
    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the grpcio server did not observe the cancellation within {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>tests/interop/server.py, started once for the class; it stops when its stdin closes.</summary>
    public sealed class PythonServer : IAsyncLifetime
    {
        private Process? _process;

        public RpcChannel Channel { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Repository.RequirePythonGrpc();
            var start = new ProcessStartInfo(Repository.SystemPython, [Repository.InteropScript("server.py"), "--port", "0"])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            _process = Process.Start(start)!;
            _ = _process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var line = await _process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException("server.py exited before it listened");
            Assert.StartsWith("LISTENING ", line, StringComparison.Ordinal);
            Channel = new RpcChannel(new Uri($"http://127.0.0.1:{line["LISTENING ".Length..]}"));
        }

        public async Task DisposeAsync()
        {
            Channel?.Dispose();
            if (_process is not null)
            {
                _process.StandardInput.Close();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }

                _process.Dispose();
            }
        }
    }
}
