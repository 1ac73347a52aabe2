using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.TokenService</c> (token.proto): who may call the API.</summary>
public static class TokenServiceMethods
{
    public const string ServiceName = "nodeagent.v1.TokenService";

    /// <summary>The request header a token travels in, as <c>Bearer SECRET</c>.</summary>
    public const string AuthorizationHeader = "authorization";

    public static readonly Method<CreateTokenRequest, CreatedToken> CreateToken =
        Method.Unary(ServiceName, nameof(CreateToken), CreateTokenRequest.Parser, CreatedToken.Parser);

    public static readonly Method<ListTokensRequest, ListTokensResponse> ListTokens =
        Method.Unary(ServiceName, nameof(ListTokens), ListTokensRequest.Parser, ListTokensResponse.Parser);

    public static readonly Method<RevokeTokenRequest, Token> RevokeToken =
        Method.Unary(ServiceName, nameof(RevokeToken), RevokeTokenRequest.Parser, Token.Parser);

    public static readonly Method<WhoAmIRequest, Identity> WhoAmI =
        Method.Unary(ServiceName, nameof(WhoAmI), WhoAmIRequest.Parser, Identity.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.TokenService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class TokenServiceBase : IRpcService
{
    public virtual Task<CreatedToken> CreateToken(CreateTokenRequest request, ServerCallContext context) =>
        throw NotImplemented.For(TokenServiceMethods.CreateToken.Path);

    public virtual Task<ListTokensResponse> ListTokens(ListTokensRequest request, ServerCallContext context) =>
        throw NotImplemented.For(TokenServiceMethods.ListTokens.Path);

    public virtual Task<Token> RevokeToken(RevokeTokenRequest request, ServerCallContext context) =>
        throw NotImplemented.For(TokenServiceMethods.RevokeToken.Path);

    public virtual Task<Identity> WhoAmI(WhoAmIRequest request, ServerCallContext context) =>
        throw NotImplemented.For(TokenServiceMethods.WhoAmI.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(TokenServiceMethods.CreateToken, CreateToken)
        .AddUnary(TokenServiceMethods.ListTokens, ListTokens)
        .AddUnary(TokenServiceMethods.RevokeToken, RevokeToken)
        .AddUnary(TokenServiceMethods.WhoAmI, WhoAmI);
}

/// <summary>Client of <c>nodeagent.v1.TokenService</c>.</summary>
public sealed class TokenServiceClient(RpcChannel channel)
{
    public Task<CreatedToken> CreateTokenAsync(CreateTokenRequest request, CallOptions options = default) =>
        channel.UnaryAsync(TokenServiceMethods.CreateToken, request, options);

    public Task<ListTokensResponse> ListTokensAsync(ListTokensRequest request, CallOptions options = default) =>
        channel.UnaryAsync(TokenServiceMethods.ListTokens, request, options);

    public Task<Token> RevokeTokenAsync(RevokeTokenRequest request, CallOptions options = default) =>
        channel.UnaryAsync(TokenServiceMethods.RevokeToken, request, options);

    public Task<Identity> WhoAmIAsync(WhoAmIRequest request, CallOptions options = default) =>
        channel.UnaryAsync(TokenServiceMethods.WhoAmI, request, options);
}
