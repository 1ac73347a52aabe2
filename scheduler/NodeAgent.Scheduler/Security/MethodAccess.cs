using System.Collections.Frozen;
using NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Security;

/// <summary>Who may call a method at all; finer rules (whose lease, which host) are the services' own.</summary>
public enum Access
{
    /// <summary>Any valid token.</summary>
    AnyToken,

    /// <summary>Users and admins: leasing, and reading images, one's quota and usage.</summary>
    Member,

    /// <summary>Admins only: hosts, images' catalogue, quotas of others, tokens.</summary>
    Admin,

    /// <summary>Agents only, each for its own host.</summary>
    Agent,
}

/// <summary>The access rule of every method of the API, in one table. A method missing here is refused to everyone.</summary>
public static class MethodAccess
{
    private static readonly FrozenDictionary<string, Access> Rules = new Dictionary<string, Access>
    {
        [LeaseServiceMethods.CreateLease.Path] = Access.Member,
        [LeaseServiceMethods.CreateLeases.Path] = Access.Member,
        [LeaseServiceMethods.GetLease.Path] = Access.Member,
        [LeaseServiceMethods.ListLeases.Path] = Access.Member,
        [LeaseServiceMethods.ExtendLease.Path] = Access.Member,
        [LeaseServiceMethods.ReleaseLease.Path] = Access.Member,
        [LeaseServiceMethods.WatchLease.Path] = Access.Member,
        [LeaseServiceMethods.SetLeasePower.Path] = Access.Member,
        [LeaseServiceMethods.SaveLease.Path] = Access.Member,

        [ImageServiceMethods.ListImages.Path] = Access.Member,
        [ImageServiceMethods.GetImage.Path] = Access.Member,
        [ImageServiceMethods.AddImage.Path] = Access.Admin,
        [ImageServiceMethods.RetireImage.Path] = Access.Admin,

        [QuotaServiceMethods.GetQuota.Path] = Access.Member,
        [QuotaServiceMethods.SetQuota.Path] = Access.Admin,
        [QuotaServiceMethods.ListQuotas.Path] = Access.Admin,

        [UsageServiceMethods.GetUsage.Path] = Access.Member,
        [UsageServiceMethods.ReportUsage.Path] = Access.Agent,

        [HostServiceMethods.ListHosts.Path] = Access.Admin,
        [HostServiceMethods.GetHost.Path] = Access.Admin,
        [HostServiceMethods.SetHostAdminState.Path] = Access.Admin,

        [AgentServiceMethods.RegisterHost.Path] = Access.Agent,
        [AgentServiceMethods.Heartbeat.Path] = Access.Agent,
        [AgentServiceMethods.WatchDesiredWorkspaces.Path] = Access.Agent,
        [AgentServiceMethods.ReportWorkspaceStatus.Path] = Access.Agent,

        [TokenServiceMethods.CreateToken.Path] = Access.Admin,
        [TokenServiceMethods.ListTokens.Path] = Access.Admin,
        [TokenServiceMethods.RevokeToken.Path] = Access.Admin,
        [TokenServiceMethods.WhoAmI.Path] = Access.AnyToken,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The methods with a rule: a test checks it is every method the scheduler serves.</summary>
    public static IReadOnlyCollection<string> Methods => Rules.Keys;

    public static Access? For(string method) => Rules.TryGetValue(method, out var access) ? access : null;
}
