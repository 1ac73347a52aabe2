using NodeAgent.Rpc;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Api;

/// <summary>The one place where the scheduler's typed exceptions become gRPC statuses.</summary>
internal static class ErrorMapping
{
    public static RpcException? ToStatus(Exception exception) => exception switch
    {
        HostNotFoundException e => new RpcException(StatusCode.NotFound, e.Message),
        LeaseNotFoundException e => new RpcException(StatusCode.NotFound, e.Message),
        LeaseStateException e => new RpcException(StatusCode.FailedPrecondition, e.Message),
        HostAdminStateException e => new RpcException(StatusCode.FailedPrecondition, e.Message),
        ImageNotFoundException e => new RpcException(StatusCode.NotFound, e.Message),
        ImageRetiredException e => new RpcException(StatusCode.FailedPrecondition, e.Message),
        InvalidImageException e => new RpcException(StatusCode.InvalidArgument, e.Message),
        UnknownNetworkException e => new RpcException(StatusCode.InvalidArgument, e.Message),
        Security.InvalidTokenException e => new RpcException(StatusCode.InvalidArgument, e.Message),
        InvalidQuotaException e => new RpcException(StatusCode.InvalidArgument, e.Message),
        QuotaExceededException e => new RpcException(StatusCode.ResourceExhausted, e.Message),
        ArgumentOutOfRangeException e => new RpcException(StatusCode.OutOfRange, e.Message.Split(" (Parameter", 2)[0]),
        StoreException e => new RpcException(StatusCode.Unavailable, "the scheduler's store failed: " + e.Message),
        _ => null,
    };
}
