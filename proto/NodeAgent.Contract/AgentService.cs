using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.AgentService</c> (agent.proto): what agents say to the scheduler.</summary>
public static class AgentServiceMethods
{
    public const string ServiceName = "nodeagent.v1.AgentService";

    public static readonly Method<RegisterHostRequest, RegisterHostResponse> RegisterHost =
        Method.Unary(ServiceName, nameof(RegisterHost), RegisterHostRequest.Parser, RegisterHostResponse.Parser);

    public static readonly Method<HeartbeatRequest, HeartbeatResponse> Heartbeat =
        Method.Unary(ServiceName, nameof(Heartbeat), HeartbeatRequest.Parser, HeartbeatResponse.Parser);

    public static readonly Method<WatchDesiredWorkspacesRequest, DesiredWorkspaces> WatchDesiredWorkspaces =
        Method.ServerStreaming(ServiceName, nameof(WatchDesiredWorkspaces), WatchDesiredWorkspacesRequest.Parser, DesiredWorkspaces.Parser);

    public static readonly Method<ReportWorkspaceStatusRequest, ReportWorkspaceStatusResponse> ReportWorkspaceStatus =
        Method.Unary(ServiceName, nameof(ReportWorkspaceStatus), ReportWorkspaceStatusRequest.Parser, ReportWorkspaceStatusResponse.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.AgentService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class AgentServiceBase : IRpcService
{
    public virtual Task<RegisterHostResponse> RegisterHost(RegisterHostRequest request, ServerCallContext context) =>
        throw NotImplemented.For(AgentServiceMethods.RegisterHost.Path);

    public virtual Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context) =>
        throw NotImplemented.For(AgentServiceMethods.Heartbeat.Path);

    public virtual Task WatchDesiredWorkspaces(WatchDesiredWorkspacesRequest request, IServerStreamWriter<DesiredWorkspaces> responses, ServerCallContext context) =>
        throw NotImplemented.For(AgentServiceMethods.WatchDesiredWorkspaces.Path);

    public virtual Task<ReportWorkspaceStatusResponse> ReportWorkspaceStatus(ReportWorkspaceStatusRequest request, ServerCallContext context) =>
        throw NotImplemented.For(AgentServiceMethods.ReportWorkspaceStatus.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(AgentServiceMethods.RegisterHost, RegisterHost)
        .AddUnary(AgentServiceMethods.Heartbeat, Heartbeat)
        .AddServerStreaming(AgentServiceMethods.WatchDesiredWorkspaces, WatchDesiredWorkspaces)
        .AddUnary(AgentServiceMethods.ReportWorkspaceStatus, ReportWorkspaceStatus);
}

/// <summary>Client of <c>nodeagent.v1.AgentService</c>.</summary>
public sealed class AgentServiceClient(RpcChannel channel)
{
    /// <summary>The channel calls go over; its <see cref="RpcChannel.Address"/> is the scheduler in use now.</summary>
    public RpcChannel Channel => channel;

    public Task<RegisterHostResponse> RegisterHostAsync(RegisterHostRequest request, CallOptions options = default) =>
        channel.UnaryAsync(AgentServiceMethods.RegisterHost, request, options);

    public Task<HeartbeatResponse> HeartbeatAsync(HeartbeatRequest request, CallOptions options = default) =>
        channel.UnaryAsync(AgentServiceMethods.Heartbeat, request, options);

    public IAsyncEnumerable<DesiredWorkspaces> WatchDesiredWorkspacesAsync(WatchDesiredWorkspacesRequest request, CallOptions options = default) =>
        channel.ServerStreamingAsync(AgentServiceMethods.WatchDesiredWorkspaces, request, options);

    public Task<ReportWorkspaceStatusResponse> ReportWorkspaceStatusAsync(ReportWorkspaceStatusRequest request, CallOptions options = default) =>
        channel.UnaryAsync(AgentServiceMethods.ReportWorkspaceStatus, request, options);
}
