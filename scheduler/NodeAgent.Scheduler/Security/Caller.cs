using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Scheduler.Security;

/// <summary>What a token lets its holder do (docs/security.md).</summary>
public enum Role
{
    /// <summary>Leases workspaces in one project; sees and changes that project's leases only.</summary>
    User,

    /// <summary>Everything: every project's leases, hosts, images, quotas and tokens.</summary>
    Admin,

    /// <summary>An agent: registers, heartbeats and reports for its one host, and receives that host's workspaces only.</summary>
    Agent,
}

/// <summary>
/// Who is calling, as their token says; <see cref="Unchecked"/> when the scheduler runs with <c>--auth none</c>,
/// where the caller names themselves and may do everything.
/// </summary>
public sealed record Caller(string User, string Project, Role Role, string? HostId = null, string? TokenId = null)
{
    /// <summary>True when no token was checked (<c>--auth none</c>): every call is allowed.</summary>
    public bool Unchecked { get; init; }

    public bool IsAdmin => Unchecked || Role == Role.Admin;

    /// <summary>The project a lease made by this caller counts in: the token's, or for an admin without one, their name.</summary>
    public string LeaseProject => Project.Length > 0 ? Project : User;

    /// <summary>Whether the caller may see and change a lease of <paramref name="project"/>.</summary>
    public bool MaySee(string project) => IsAdmin || (Role == Role.User && project == Project);

    /// <summary>The caller the gate admitted; every service call has one once <see cref="ApiGate"/> is the server's gate.</summary>
    public static Caller Of(ServerCallContext context) =>
        context.Caller as Caller ?? throw new InvalidOperationException("the call was dispatched without the scheduler's gate");

    /// <summary>Throws PERMISSION_DENIED unless the caller is an admin.</summary>
    public void RequireAdmin(string what)
    {
        if (!IsAdmin)
        {
            throw new RpcException(StatusCode.PermissionDenied, $"{what} is for admins; this token ({Describe()}) may not do it");
        }
    }

    /// <summary>Throws PERMISSION_DENIED unless the caller may act for <paramref name="host"/>: its agent, or an unchecked caller.</summary>
    public void RequireHost(string host)
    {
        if (!Unchecked && (Role != Role.Agent || HostId != host))
        {
            throw new RpcException(StatusCode.PermissionDenied,
                Role == Role.Agent
                    ? $"this agent token is for host {HostId}; it cannot act for another host. Give each agent the token made for its host"
                    : $"only an agent token may act for a host; this token is {Describe()}");
        }
    }

    /// <summary>The token's id and whose it is, for messages and logs; never the secret.</summary>
    public string Describe() => Role switch
    {
        _ when Unchecked => $"unchecked caller {User}",
        Role.Agent => $"{TokenId}, agent of host {HostId}",
        Role.Admin => $"{TokenId}, admin {User}",
        _ => $"{TokenId}, user {User} of project {Project}",
    };
}
