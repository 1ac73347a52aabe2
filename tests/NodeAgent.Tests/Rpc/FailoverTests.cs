using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Rpc;

/// <summary>
/// A channel over several replicas' addresses, against real servers on loopback: a call no server could be connected
/// to goes to the next address, which then serves what follows; a call a server answered, even with an error, is
/// never sent again.
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private readonly EchoService _first = new();
    private readonly EchoService _second = new();
    private TestRpcServer _live = null!;
    private TestRpcServer _other = null!;

    public async Task InitializeAsync()
    {
        _live = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(_first));
        _other = await TestRpcServer.StartAsync(new RpcServiceRegistry().Add(_second));
    }

    public async Task DisposeAsync()
    {
        await _live.DisposeAsync();
        await _other.DisposeAsync();
    }


    [Fact(Timeout = 20_000)]
    public async Task FirstAddressDead_CallGoesToTheNext_WhichServesTheCallsThatFollow()
    {
        var dead = DeadAddress.Next();
        using var channel = new RpcChannel([dead, _live.Address]);

        var host = await channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "h1" });
        var streamed = new List<string>();
        await foreach (var message in channel.ServerStreamingAsync(EchoService.Stream, new GetHostRequest { HostId = "count:3" }))
        {
            streamed.Add(message.Info.HostId);
        }

        Assert.Equal("h1", host.Info.HostId);
        Assert.Equal(["h0", "h1", "h2"], streamed);
        Assert.Equal(_live.Address, channel.Address);
        Assert.Equal([dead, _live.Address], channel.Addresses);
    }

    [Fact(Timeout = 20_000)]
    public async Task EveryAddressDead_UnavailableNamingThemAll()
    {
        var (a, b) = (DeadAddress.Next(), DeadAddress.Next());
        using var channel = new RpcChannel([a, b]);

        var error = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "h1" }));

        Assert.Equal(StatusCode.Unavailable, error.Status);
        Assert.Contains(a.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains(b.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task ServerAnswersWithAnError_TheCallIsNotSentToTheNextReplica()
    {
        using var channel = new RpcChannel([_live.Address, _other.Address]);

        var error = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "fail" }));
        var crashed = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(EchoService.Unary, new GetHostRequest { HostId = "crash" }));

        Assert.Equal(StatusCode.FailedPrecondition, error.Status);
        Assert.Equal(StatusCode.Internal, crashed.Status);
        Assert.Equal(_live.Address, channel.Address);
        Assert.Equal(2, _first.UnaryCalls);
        Assert.Equal(0, _second.UnaryCalls);
    }

    [Theory]
    [InlineData("http://s1:7700,http://s2:7700", 2)]
    [InlineData("http://s1:7700 , https://s2:7443", 2)]
    [InlineData("http://s1:7700", 1)]
    public void ParseAddresses_CommaSeparated_EveryAddressInOrder(string text, int count)
    {
        var addresses = RpcChannel.ParseAddresses(text);

        Assert.Equal(count, addresses.Count);
        Assert.Equal("s1", addresses[0].Host);
    }

    [Theory]
    [InlineData("http://s1:7700,,http://s2:7700", "empty address")]
    [InlineData("http://s1:7700,", "empty address")]
    [InlineData("http://s1:7700,ftp://s2", "not a server address")]
    public void ParseAddresses_Malformed_SaysWhat(string text, string problem)
    {
        var error = Assert.Throws<FormatException>(() => RpcChannel.ParseAddresses(text));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
