using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>The real agent process presenting its credentials: a token file (read again when it appears or changes), or a client certificate.</summary>
public sealed class AgentCredentialTests
{
    [Fact(Timeout = 90_000)]
    public async Task Agent_TokenFileWrittenAfterItStarted_RegistersWithIt()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        using var directory = new TempDirectory();
        var tokenFile = Path.Combine(directory.Path, "agent.token");
        await using var agent = ServiceProcesses.StartAgent(secured.Scheduler.Address, directory.Path, "h-token", null, "--token-file", tokenFile);

        // Refused without a token; the agent keeps trying.
        await agent.WaitForLineAsync("needs a token", ServiceProcesses.StartTimeout);
        await File.WriteAllTextAsync(tokenFile, await secured.AgentAsync("h-token") + "\n");

        await agent.WaitForLineAsync("Registered as host h-token", ServiceProcesses.StartTimeout);
        using var admin = secured.Channel(secured.Admin);
        Assert.Equal(["h-token"], (await new HostServiceClient(admin).ListHostsAsync(new ListHostsRequest())).Hosts.Select(h => h.Info.HostId));
    }

    [Fact(Timeout = 90_000)]
    public async Task Agent_ClientCertificate_RegistersOverTlsWithoutAToken()
    {
        using var pki = new TestPki();
        var (certificate, key) = pki.Server();
        await using var secured = await SecuredScheduler.StartAsync(configure: o => o with
        {
            Listen = [RpcListenAddress.Parse("https://127.0.0.1:0")], TlsCertificate = certificate, TlsKey = key, ClientCa = pki.CaFile,
        });
        using var directory = new TempDirectory();
        var (agentCertificate, agentKey) = pki.Client("h-cert");

        await using var agent = ServiceProcesses.StartAgent(secured.Scheduler.Address, directory.Path, "h-cert", null,
            "--tls-cert", agentCertificate, "--tls-key", agentKey, "--ca-file", pki.CaFile);

        await agent.WaitForLineAsync("Registered as host h-cert", ServiceProcesses.StartTimeout);
    }
}
