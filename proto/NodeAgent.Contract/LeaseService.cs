using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.LeaseService</c> (lease.proto): what ws asks of the scheduler.</summary>
public static class LeaseServiceMethods
{
    public const string ServiceName = "nodeagent.v1.LeaseService";

    public static readonly Method<CreateLeaseRequest, Lease> CreateLease =
        Method.Unary(ServiceName, nameof(CreateLease), CreateLeaseRequest.Parser, Lease.Parser);

    public static readonly Method<CreateLeasesRequest, CreateLeasesResponse> CreateLeases =
        Method.Unary(ServiceName, nameof(CreateLeases), CreateLeasesRequest.Parser, CreateLeasesResponse.Parser);

    public static readonly Method<GetLeaseRequest, Lease> GetLease =
        Method.Unary(ServiceName, nameof(GetLease), GetLeaseRequest.Parser, Lease.Parser);

    public static readonly Method<ListLeasesRequest, ListLeasesResponse> ListLeases =
        Method.Unary(ServiceName, nameof(ListLeases), ListLeasesRequest.Parser, ListLeasesResponse.Parser);

    public static readonly Method<ExtendLeaseRequest, Lease> ExtendLease =
        Method.Unary(ServiceName, nameof(ExtendLease), ExtendLeaseRequest.Parser, Lease.Parser);

    public static readonly Method<ReleaseLeaseRequest, Lease> ReleaseLease =
        Method.Unary(ServiceName, nameof(ReleaseLease), ReleaseLeaseRequest.Parser, Lease.Parser);

    public static readonly Method<GetLeaseRequest, Lease> WatchLease =
        Method.ServerStreaming(ServiceName, nameof(WatchLease), GetLeaseRequest.Parser, Lease.Parser);

    public static readonly Method<SetLeasePowerRequest, Lease> SetLeasePower =
        Method.Unary(ServiceName, nameof(SetLeasePower), SetLeasePowerRequest.Parser, Lease.Parser);

    public static readonly Method<SaveLeaseRequest, Lease> SaveLease =
        Method.Unary(ServiceName, nameof(SaveLease), SaveLeaseRequest.Parser, Lease.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.LeaseService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class LeaseServiceBase : IRpcService
{
    public virtual Task<Lease> CreateLease(CreateLeaseRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.CreateLease.Path);

    public virtual Task<CreateLeasesResponse> CreateLeases(CreateLeasesRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.CreateLeases.Path);

    public virtual Task<Lease> GetLease(GetLeaseRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.GetLease.Path);

    public virtual Task<ListLeasesResponse> ListLeases(ListLeasesRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.ListLeases.Path);

    public virtual Task<Lease> ExtendLease(ExtendLeaseRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.ExtendLease.Path);

    public virtual Task<Lease> ReleaseLease(ReleaseLeaseRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.ReleaseLease.Path);

    public virtual Task WatchLease(GetLeaseRequest request, IServerStreamWriter<Lease> responses, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.WatchLease.Path);

    public virtual Task<Lease> SetLeasePower(SetLeasePowerRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.SetLeasePower.Path);

    public virtual Task<Lease> SaveLease(SaveLeaseRequest request, ServerCallContext context) =>
        throw NotImplemented.For(LeaseServiceMethods.SaveLease.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(LeaseServiceMethods.CreateLease, CreateLease)
        .AddUnary(LeaseServiceMethods.CreateLeases, CreateLeases)
        .AddUnary(LeaseServiceMethods.GetLease, GetLease)
        .AddUnary(LeaseServiceMethods.ListLeases, ListLeases)
        .AddUnary(LeaseServiceMethods.ExtendLease, ExtendLease)
        .AddUnary(LeaseServiceMethods.ReleaseLease, ReleaseLease)
        .AddServerStreaming(LeaseServiceMethods.WatchLease, WatchLease)
        .AddUnary(LeaseServiceMethods.SetLeasePower, SetLeasePower)
        .AddUnary(LeaseServiceMethods.SaveLease, SaveLease);
}

/// <summary>Client of <c>nodeagent.v1.LeaseService</c>.</summary>
public sealed class LeaseServiceClient(RpcChannel channel)
{
    public Task<Lease> CreateLeaseAsync(CreateLeaseRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.CreateLease, request, options);

    public Task<CreateLeasesResponse> CreateLeasesAsync(CreateLeasesRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.CreateLeases, request, options);

    public Task<Lease> GetLeaseAsync(GetLeaseRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.GetLease, request, options);

    public Task<ListLeasesResponse> ListLeasesAsync(ListLeasesRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.ListLeases, request, options);

    public Task<Lease> ExtendLeaseAsync(ExtendLeaseRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.ExtendLease, request, options);

    public Task<Lease> ReleaseLeaseAsync(ReleaseLeaseRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.ReleaseLease, request, options);

    public IAsyncEnumerable<Lease> WatchLeaseAsync(GetLeaseRequest request, CallOptions options = default) =>
        channel.ServerStreamingAsync(LeaseServiceMethods.WatchLease, request, options);

    public Task<Lease> SetLeasePowerAsync(SetLeasePowerRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.SetLeasePower, request, options);

    public Task<Lease> SaveLeaseAsync(SaveLeaseRequest request, CallOptions options = default) =>
        channel.UnaryAsync(LeaseServiceMethods.SaveLease, request, options);
}
