using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Tests.Support;

/// <summary>
/// A service for transport tests, built from contract messages under its own name. The request's
/// host_id says what to do; what the server saw is recorded for the test to check.
/// </summary>
internal sealed class EchoService : IRpcService
{
    public static readonly Method<GetHostRequest, Host> Unary = Method.Unary("nodeagent.test.Echo", "Unary", GetHostRequest.Parser, Host.Parser);
    public static readonly Method<GetHostRequest, Host> Stream = Method.ServerStreaming("nodeagent.test.Echo", "Stream", GetHostRequest.Parser, Host.Parser);

    public TaskCompletionSource<TimeSpan> ServerCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<DateTimeOffset?> DeadlineSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Bind(RpcServiceRegistry registry) => registry.AddUnary(Unary, UnaryAsync).AddServerStreaming(Stream, StreamAsync);

    private int _unaryCalls;

    /// <summary>How many unary calls reached this service.</summary>
    public int UnaryCalls => Volatile.Read(ref _unaryCalls);

    private async Task<Host> UnaryAsync(GetHostRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _unaryCalls);
        var command = request.HostId;
        DeadlineSeen.TrySetResult(context.Deadline);
        switch (command)
        {
            case "fail":
                throw new RpcException(StatusCode.FailedPrecondition, "100% full: disk /var/lib/nodeagent — free space ü");
            case "crash":
                throw new InvalidOperationException("secret internal detail");
            case "slow":
                await WaitForCancellationAsync(context);
                return new Host();
        }

        if (command.StartsWith("big:", StringComparison.Ordinal))
        {
            return HostWithPayload(int.Parse(command[4..], System.Globalization.CultureInfo.InvariantCulture));
        }

        return new Host { Info = new HostInfo { HostId = command, Hostname = context.GetRequestHeader("x-caller") ?? string.Empty } };
    }

    private async Task StreamAsync(GetHostRequest request, IServerStreamWriter<Host> responses, ServerCallContext context)
    {
        var parts = request.HostId.Split(':');
        switch (parts[0])
        {
            case "count":
                for (var i = 0; i < int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture); i++)
                {
                    await responses.WriteAsync(new Host { Info = new HostInfo { HostId = $"h{i}" } });
                }

                return;
            case "forever":
                await responses.WriteAsync(new Host { Info = new HostInfo { HostId = "first" } });
                await WaitForCancellationAsync(context);
                return;
            case "fail-after":
                await responses.WriteAsync(new Host { Info = new HostInfo { HostId = "only" } });
                throw new RpcException(StatusCode.Unavailable, "scheduler is shutting down; reconnect");
            default:
                throw new RpcException(StatusCode.NotFound, $"no stream '{request.HostId}'");
        }
    }

    private async Task WaitForCancellationAsync(ServerCallContext context)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            ServerCancelled.TrySetResult(started.Elapsed);
            throw;
        }
    }

    public static Host HostWithPayload(int bytes) =>
        new() { Info = new HostInfo { HostId = "big", Labels = { ["payload"] = new string('x', bytes) } } };
}
