using NodeAgent.Rpc;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Api;

/// <summary>The one place where the scheduler's typed exceptions become gRPC statuses.</summary>
internal static class ErrorMapping
{
    public static RpcException? ToStatus(Exception exception) => exception switch
    {
        HostNotFoundException e => new RpcException(StatusCode.NotFound, e.Message),
        StoreException e => new RpcException(StatusCode.Unavailable, "the scheduler's store failed: " + e.Message),
        _ => null,
    };
}
