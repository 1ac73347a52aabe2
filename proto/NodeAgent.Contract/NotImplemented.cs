using NodeAgent.Rpc;

namespace NodeAgent.Contract.V1;

/// <summary>Shared answer of service bases for methods a server does not implement.</summary>
internal static class NotImplemented
{
    public static RpcException For(string path) =>
        new(StatusCode.Unimplemented, $"{path} is not implemented by this server; upgrade the server or use a matching client version");
}
