using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.HostService</c> (host.proto): hosts as the scheduler sees them.</summary>
public static class HostServiceMethods
{
    public const string ServiceName = "nodeagent.v1.HostService";

    public static readonly Method<ListHostsRequest, ListHostsResponse> ListHosts =
        Method.Unary(ServiceName, nameof(ListHosts), ListHostsRequest.Parser, ListHostsResponse.Parser);

    public static readonly Method<GetHostRequest, Host> GetHost =
        Method.Unary(ServiceName, nameof(GetHost), GetHostRequest.Parser, Host.Parser);

    public static readonly Method<SetHostAdminStateRequest, Host> SetHostAdminState =
        Method.Unary(ServiceName, nameof(SetHostAdminState), SetHostAdminStateRequest.Parser, Host.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.HostService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class HostServiceBase : IRpcService
{
    public virtual Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context) =>
        throw NotImplemented.For(HostServiceMethods.ListHosts.Path);

    public virtual Task<Host> GetHost(GetHostRequest request, ServerCallContext context) =>
        throw NotImplemented.For(HostServiceMethods.GetHost.Path);

    public virtual Task<Host> SetHostAdminState(SetHostAdminStateRequest request, ServerCallContext context) =>
        throw NotImplemented.For(HostServiceMethods.SetHostAdminState.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(HostServiceMethods.ListHosts, ListHosts)
        .AddUnary(HostServiceMethods.GetHost, GetHost)
        .AddUnary(HostServiceMethods.SetHostAdminState, SetHostAdminState);
}

/// <summary>Client of <c>nodeagent.v1.HostService</c>.</summary>
public sealed class HostServiceClient(RpcChannel channel)
{
    public Task<ListHostsResponse> ListHostsAsync(ListHostsRequest request, CallOptions options = default) =>
        channel.UnaryAsync(HostServiceMethods.ListHosts, request, options);

    public Task<Host> GetHostAsync(GetHostRequest request, CallOptions options = default) =>
        channel.UnaryAsync(HostServiceMethods.GetHost, request, options);

    public Task<Host> SetHostAdminStateAsync(SetHostAdminStateRequest request, CallOptions options = default) =>
        channel.UnaryAsync(HostServiceMethods.SetHostAdminState, request, options);
}
