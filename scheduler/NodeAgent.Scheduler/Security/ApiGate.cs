using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Scheduler.Security;

/// <summary>How the scheduler knows who calls it (<c>--auth</c>).</summary>
public enum AuthMode
{
    /// <summary>Every call carries a bearer token (docs/security.md).</summary>
    Token,

    /// <summary>
    /// No checks: a caller names themselves in the <see cref="UserHeader"/> header and may do everything. For a
    /// scheduler only its own machine's users reach, such as a laptop or a test.
    /// </summary>
    None,
}

/// <summary>
/// The scheduler's <see cref="IRpcCallGate"/>: finds the caller from the call's bearer token and applies the method's
/// <see cref="MethodAccess"/> rule. UNAUTHENTICATED and PERMISSION_DENIED messages say what to do, and never whether a
/// token, user, project, lease or host exists.
/// </summary>
/// <remarks>
/// An agent may also authenticate with a client certificate (mutual TLS, <c>--client-ca</c>): Kestrel accepts only
/// certificates <see cref="SchedulerTls.AcceptsClient"/> approves, and such a caller is the agent of the host its
/// certificate names. A bearer token, when the call carries one as well, is what counts.
/// </remarks>
public sealed class ApiGate(AuthMode mode, TokenBook tokens, SchedulerTls? tls = null) : IRpcCallGate
{
    /// <summary>With <c>--auth none</c>, who the caller says they are ("anonymous" without it).</summary>
    public const string UserHeader = "x-nodeagent-user";

    public ValueTask<object?> AdmitAsync(ServerCallContext context)
    {
        var access = MethodAccess.For(context.Method)
            ?? throw new RpcException(StatusCode.PermissionDenied, $"{context.Method} has no access rule; no token may call it");
        var caller = mode == AuthMode.None ? Unchecked(context) : Authenticate(context);
        Authorize(caller, access, context.Method);
        return ValueTask.FromResult<object?>(caller);
    }

    private static Caller Unchecked(ServerCallContext context)
    {
        var user = context.GetRequestHeader(UserHeader);
        if (string.IsNullOrEmpty(user))
        {
            return new Caller("anonymous", string.Empty, Role.Admin) { Unchecked = true };
        }

        if (!IdSyntax.IsValid(user, out var problem))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"the {UserHeader} header {problem}");
        }

        return new Caller(user, string.Empty, Role.Admin) { Unchecked = true };
    }

    private Caller Authenticate(ServerCallContext context)
    {
        var header = context.GetRequestHeader(TokenServiceMethods.AuthorizationHeader);
        if (string.IsNullOrEmpty(header) && tls?.AsksForClientCertificates == true && context.HttpContext.Connection.ClientCertificate is { } certificate)
        {
            var host = SchedulerTls.HostOf(certificate);
            return new Caller(host, string.Empty, Role.Agent, host, "certificate " + certificate.Thumbprint[..16].ToLowerInvariant());
        }

        if (string.IsNullOrEmpty(header))
        {
            throw new RpcException(StatusCode.Unauthenticated,
                "this scheduler needs a token: send 'authorization: Bearer TOKEN' (ws: --token-file or NODEAGENT_TOKEN; the agent: token-file " +
                "in nodeagent.conf); an admin makes tokens with 'ws admin token create'");
        }

        var bearer = TokenBook.BearerOf(header) ?? throw new RpcException(StatusCode.Unauthenticated, "the authorization header must be 'Bearer TOKEN'");
        return tokens.Authenticate(bearer)
            ?? throw new RpcException(StatusCode.Unauthenticated, "the token is not valid: it is malformed, unknown, expired or revoked; ask an admin for a new one");
    }

    private static void Authorize(Caller caller, Access access, string method)
    {
        var name = method[(method.LastIndexOf('/') + 1)..];
        switch (access)
        {
            case Access.Admin:
                caller.RequireAdmin(name);
                break;
            case Access.Member when !caller.Unchecked && caller.Role == Role.Agent:
                throw new RpcException(StatusCode.PermissionDenied, $"{name} is for users and admins; an agent token may not call it");
            case Access.Agent when !caller.Unchecked && caller.Role != Role.Agent:
                throw new RpcException(StatusCode.PermissionDenied, $"{name} is for agents; give the agent a token made with 'ws admin token create --host HOST'");
        }
    }
}
