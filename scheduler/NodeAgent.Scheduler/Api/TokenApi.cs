using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Security;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>nodeagent.v1.TokenService: admins make, list and revoke tokens; anyone asks who their token says they are.</summary>
internal sealed class TokenApi(TokenBook tokens) : V1.TokenServiceBase
{
    public override async Task<V1.CreatedToken> CreateToken(V1.CreateTokenRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("CreateToken");
        var role = RoleOf(request.Role, v);
        TimeSpan? expiresIn = request.ExpiresIn is { } given && (given.Seconds != 0 || given.Nanos != 0)
            ? v.Duration("expires_in", request.ExpiresIn, TimeSpan.FromMinutes(1), TokenBook.MaxLifetime)
            : null;
        v.ThrowIfInvalid();
        var spec = new TokenSpec(request.User, request.Project, role, request.HostId, expiresIn, request.Description);
        var (token, secret) = await tokens.CreateAsync(spec, Caller.Of(context).User, context.CancellationToken);
        return new V1.CreatedToken { Token = ToWire(token), Secret = secret };
    }

    public override Task<V1.ListTokensResponse> ListTokens(V1.ListTokensRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("ListTokens");
        var user = request.User.Length > 0 ? v.Name("user", request.User) : null;
        var project = request.Project.Length > 0 ? v.Name("project", request.Project) : null;
        v.ThrowIfInvalid();
        var response = new V1.ListTokensResponse();
        response.Tokens.Add(tokens.List(user, project, request.IncludeRevoked).Select(ToWire));
        return Task.FromResult(response);
    }

    public override async Task<V1.Token> RevokeToken(V1.RevokeTokenRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("RevokeToken");
        v.Require(IsTokenId(request.Id), $"id '{IdSyntax.Printable(request.Id)}' is not a token id; token ids are 't-' and 16 hex digits, as 'ws admin token list' shows");
        v.ThrowIfInvalid();
        var revoked = await tokens.RevokeAsync(request.Id, Caller.Of(context).User, context.CancellationToken)
            ?? throw new Rpc.RpcException(Rpc.StatusCode.NotFound, $"token {request.Id} does not exist; 'ws admin token list --all' shows every token");
        return ToWire(revoked);
    }

    public override Task<V1.Identity> WhoAmI(V1.WhoAmIRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var identity = new V1.Identity
        {
            User = caller.User, Project = caller.Project, Role = ToWire(caller.Role), HostId = caller.HostId ?? string.Empty, TokenId = caller.TokenId ?? string.Empty,
        };
        if (caller.TokenId is { } id && tokens.Find(id)?.ExpiresAt is { } expires)
        {
            identity.ExpiresAt = Timestamp.FromDateTimeOffset(expires);
        }

        return Task.FromResult(identity);
    }

    private static bool IsTokenId(string id) =>
        id.Length == 18 && id.StartsWith("t-", StringComparison.Ordinal) && id.Skip(2).All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    private static Role RoleOf(V1.Role role, RequestValidator v)
    {
        switch (role)
        {
            case V1.Role.User: return Role.User;
            case V1.Role.Admin: return Role.Admin;
            case V1.Role.Agent: return Role.Agent;
            default:
                v.Require(false, $"role is {(int)role}; it must be ROLE_USER, ROLE_ADMIN or ROLE_AGENT");
                return Role.User;
        }
    }

    private static V1.Role ToWire(Role role) => role switch
    {
        Role.Admin => V1.Role.Admin,
        Role.Agent => V1.Role.Agent,
        _ => V1.Role.User,
    };

    private static V1.Token ToWire(Store.TokenRecord t)
    {
        var wire = new V1.Token
        {
            Id = t.Id, User = t.User, Project = t.Project, Role = ToWire(t.Role), HostId = t.HostId, Description = t.Description,
            CreatedAt = Timestamp.FromDateTimeOffset(t.CreatedAt), CreatedBy = t.CreatedBy, RevokedBy = t.RevokedBy,
        };
        if (t.ExpiresAt is { } expires)
        {
            wire.ExpiresAt = Timestamp.FromDateTimeOffset(expires);
        }

        if (t.RevokedAt is { } revoked)
        {
            wire.RevokedAt = Timestamp.FromDateTimeOffset(revoked);
        }

        return wire;
    }
}
