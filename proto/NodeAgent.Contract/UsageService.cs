using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.UsageService</c> (usage.proto): metered use of workspaces.</summary>
public static class UsageServiceMethods
{
    public const string ServiceName = "nodeagent.v1.UsageService";

    public static readonly Method<GetUsageRequest, GetUsageResponse> GetUsage =
        Method.Unary(ServiceName, nameof(GetUsage), GetUsageRequest.Parser, GetUsageResponse.Parser);

    public static readonly Method<ReportUsageRequest, ReportUsageResponse> ReportUsage =
        Method.Unary(ServiceName, nameof(ReportUsage), ReportUsageRequest.Parser, ReportUsageResponse.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.UsageService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class UsageServiceBase : IRpcService
{
    public virtual Task<GetUsageResponse> GetUsage(GetUsageRequest request, ServerCallContext context) =>
        throw NotImplemented.For(UsageServiceMethods.GetUsage.Path);

    public virtual Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context) =>
        throw NotImplemented.For(UsageServiceMethods.ReportUsage.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(UsageServiceMethods.GetUsage, GetUsage)
        .AddUnary(UsageServiceMethods.ReportUsage, ReportUsage);
}

/// <summary>Client of <c>nodeagent.v1.UsageService</c>.</summary>
public sealed class UsageServiceClient(RpcChannel channel)
{
    public Task<GetUsageResponse> GetUsageAsync(GetUsageRequest request, CallOptions options = default) =>
        channel.UnaryAsync(UsageServiceMethods.GetUsage, request, options);

    public Task<ReportUsageResponse> ReportUsageAsync(ReportUsageRequest request, CallOptions options = default) =>
        channel.UnaryAsync(UsageServiceMethods.ReportUsage, request, options);
}
