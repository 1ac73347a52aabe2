using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.QuotaService</c> (quota.proto): per-project quotas and their use.</summary>
public static class QuotaServiceMethods
{
    public const string ServiceName = "nodeagent.v1.QuotaService";

    /// <summary>The project name that stands for the default quota; never a valid project id, so never a project.</summary>
    public const string DefaultProject = "*";

    public static readonly Method<GetQuotaRequest, Quota> GetQuota =
        Method.Unary(ServiceName, nameof(GetQuota), GetQuotaRequest.Parser, Quota.Parser);

    public static readonly Method<SetQuotaRequest, Quota> SetQuota =
        Method.Unary(ServiceName, nameof(SetQuota), SetQuotaRequest.Parser, Quota.Parser);

    public static readonly Method<ListQuotasRequest, ListQuotasResponse> ListQuotas =
        Method.Unary(ServiceName, nameof(ListQuotas), ListQuotasRequest.Parser, ListQuotasResponse.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.QuotaService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class QuotaServiceBase : IRpcService
{
    public virtual Task<Quota> GetQuota(GetQuotaRequest request, ServerCallContext context) =>
        throw NotImplemented.For(QuotaServiceMethods.GetQuota.Path);

    public virtual Task<Quota> SetQuota(SetQuotaRequest request, ServerCallContext context) =>
        throw NotImplemented.For(QuotaServiceMethods.SetQuota.Path);

    public virtual Task<ListQuotasResponse> ListQuotas(ListQuotasRequest request, ServerCallContext context) =>
        throw NotImplemented.For(QuotaServiceMethods.ListQuotas.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(QuotaServiceMethods.GetQuota, GetQuota)
        .AddUnary(QuotaServiceMethods.SetQuota, SetQuota)
        .AddUnary(QuotaServiceMethods.ListQuotas, ListQuotas);
}

/// <summary>Client of <c>nodeagent.v1.QuotaService</c>.</summary>
public sealed class QuotaServiceClient(RpcChannel channel)
{
    public Task<Quota> GetQuotaAsync(GetQuotaRequest request, CallOptions options = default) =>
        channel.UnaryAsync(QuotaServiceMethods.GetQuota, request, options);

    public Task<Quota> SetQuotaAsync(SetQuotaRequest request, CallOptions options = default) =>
        channel.UnaryAsync(QuotaServiceMethods.SetQuota, request, options);

    public Task<ListQuotasResponse> ListQuotasAsync(ListQuotasRequest request, CallOptions options = default) =>
        channel.UnaryAsync(QuotaServiceMethods.ListQuotas, request, options);
}
