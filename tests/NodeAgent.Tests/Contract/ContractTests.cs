using Google.Protobuf.Reflection;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Tests.Contract;

/// <summary>The typed services written by hand must say exactly what the .proto files say.</summary>
public sealed class ContractTests
{
    private static readonly FileDescriptor[] Files =
    [
        AgentReflection.Descriptor, LeaseReflection.Descriptor, HostReflection.Descriptor, UsageReflection.Descriptor,
    ];

    private static readonly IRpcService[] Bases =
    [
        new Unimplemented.Agent(), new Unimplemented.Lease(), new Unimplemented.Hosts(), new Unimplemented.Usage(),
    ];

    [Fact]
    public void ServiceBases_BindEveryMethodOfTheProtoFiles_AndNothingElse()
    {
        var registry = new RpcServiceRegistry();
        foreach (var service in Bases)
        {
            registry.Add(service);
        }

        var fromProto = Files.SelectMany(f => f.Services).SelectMany(s => s.Methods).Select(m => $"/{m.Service.FullName}/{m.Name}").Order();

        Assert.Equal(fromProto, registry.Paths.Order());
    }

    [Fact]
    public void MethodDescriptors_MatchProtoTypesAndStreaming()
    {
        var methods = Files.SelectMany(f => f.Services).SelectMany(s => s.Methods).ToDictionary(m => $"/{m.Service.FullName}/{m.Name}");

        foreach (var (path, type, input, output) in TypedMethods())
        {
            var proto = methods[path];
            Assert.Equal(proto.InputType.FullName, input);
            Assert.Equal(proto.OutputType.FullName, output);
            Assert.False(proto.IsClientStreaming);
            Assert.Equal(proto.IsServerStreaming, type == MethodType.ServerStreaming);
        }
    }

    [Fact]
    public void Package_IsVersioned() =>
        Assert.All(Files, f => Assert.Equal("nodeagent.v1", f.Package));

    private static IEnumerable<(string Path, MethodType Type, string Input, string Output)> TypedMethods()
    {
        static (string, MethodType, string, string) Row<TReq, TResp>(Method<TReq, TResp> m)
            where TReq : class, Google.Protobuf.IMessage<TReq>, new()
            where TResp : class, Google.Protobuf.IMessage<TResp>, new() =>
            (m.Path, m.Type, new TReq().Descriptor.FullName, new TResp().Descriptor.FullName);

        yield return Row(AgentServiceMethods.RegisterHost);
        yield return Row(AgentServiceMethods.Heartbeat);
        yield return Row(AgentServiceMethods.WatchDesiredWorkspaces);
        yield return Row(AgentServiceMethods.ReportWorkspaceStatus);
        yield return Row(LeaseServiceMethods.CreateLease);
        yield return Row(LeaseServiceMethods.CreateLeases);
        yield return Row(LeaseServiceMethods.GetLease);
        yield return Row(LeaseServiceMethods.ListLeases);
        yield return Row(LeaseServiceMethods.ExtendLease);
        yield return Row(LeaseServiceMethods.ReleaseLease);
        yield return Row(LeaseServiceMethods.WatchLease);
        yield return Row(LeaseServiceMethods.SetLeasePower);
        yield return Row(HostServiceMethods.ListHosts);
        yield return Row(HostServiceMethods.GetHost);
        yield return Row(HostServiceMethods.SetHostAdminState);
        yield return Row(UsageServiceMethods.GetUsage);
        yield return Row(UsageServiceMethods.ReportUsage);
    }

    private static class Unimplemented
    {
        public sealed class Agent : AgentServiceBase;

        public sealed class Lease : LeaseServiceBase;

        public sealed class Hosts : HostServiceBase;

        public sealed class Usage : UsageServiceBase;
    }
}
