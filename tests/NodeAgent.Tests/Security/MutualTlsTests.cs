using System.Security.Cryptography.X509Certificates;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Security;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>
/// The scheduler's API over TLS with a certificate of the operator's own CA (--tls-cert, --tls-key), clients that check
/// it against that CA (--ca-file), and agents that authenticate with client certificates tied to their host id (--client-ca).
/// </summary>
public sealed class MutualTlsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private Task<SecuredScheduler> StartAsync(bool clientCa = true)
    {
        var (certificate, key) = _pki.Server();
        return SecuredScheduler.StartAsync(configure: o => o with
        {
            Listen = [RpcListenAddress.Parse("https://127.0.0.1:0")],
            TlsCertificate = certificate,
            TlsKey = key,
            ClientCa = clientCa ? _pki.CaFile : null,
        });
    }

    private RpcChannel Channel(SecuredScheduler secured, string? token = null, (string Certificate, string Key)? client = null, string? caFile = null)
    {
        var certificate = client is { } c ? TlsFiles.LoadCertificate(c.Certificate, c.Key) : null;
        return new RpcChannel([secured.Scheduler.Address], new RpcChannelOptions
        {
            ServerCertificateValidation = TlsFiles.ServerValidator(TlsFiles.LoadAuthorities(caFile ?? _pki.CaFile)),
            ClientCertificate = certificate is null ? null : () => certificate,
            DefaultHeaders = token is null ? null : new Metadata { { "authorization", "Bearer " + token } },
        });
    }

    [Fact(Timeout = 30_000)]
    public async Task Client_TrustingTheCa_Connects_TrustingAnotherCa_IsRefusedBeforeSendingAnything()
    {
        await using var secured = await StartAsync();
        using var other = new TestPki("another CA");
        using var trusting = Channel(secured, secured.Admin);
        using var wrong = Channel(secured, secured.Admin, caFile: other.CaFile);

        Assert.Equal("https", secured.Scheduler.Address.Scheme);
        Assert.Equal("admin", (await new TokenServiceClient(trusting).WhoAmIAsync(new WhoAmIRequest())).User);
        var refused = await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(wrong).WhoAmIAsync(new WhoAmIRequest()));
        Assert.Equal(StatusCode.Unavailable, refused.Status);
        Assert.Contains("TLS handshake", refused.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ws_WithCaFile_Connects_WithoutIt_ExitsThreeSayingHowToTrustTheCa()
    {
        await using var secured = await StartAsync();

        var trusted = await WsAsync(secured, "--ca-file", _pki.CaFile, "whoami");
        var untrusted = await WsAsync(secured, "whoami");

        Assert.Equal(0, trusted.Code);
        Assert.Matches("role +admin", trusted.Stdout);
        Assert.Equal(3, untrusted.Code);
        Assert.Contains("--ca-file", untrusted.Stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> WsAsync(SecuredScheduler secured, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        start.Environment["WS_SCHEDULER"] = secured.Scheduler.Address.ToString();
        start.Environment["NODEAGENT_TOKEN"] = secured.Admin;
        start.Environment.Remove("WS_CA_FILE");
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact(Timeout = 30_000)]
    public async Task AgentCertificate_ActsForItsHostWithoutAToken_AndForNoOtherHost_NorAsAUser()
    {
        await using var secured = await StartAsync();
        using var agent = Channel(secured, client: _pki.Client("h1"));
        var info = NodeAgent.Tests.Scheduler.HostApiTests.Info("h1");

        await new AgentServiceClient(agent).RegisterHostAsync(new RegisterHostRequest { Host = info });
        await new AgentServiceClient(agent).HeartbeatAsync(new HeartbeatRequest { HostId = "h1", Capacity = info.Capacity, Load = new HostLoad() });
        var other = await Assert.ThrowsAsync<RpcException>(() =>
            new AgentServiceClient(agent).HeartbeatAsync(new HeartbeatRequest { HostId = "h2", Capacity = info.Capacity }));
        var register = await Assert.ThrowsAsync<RpcException>(() =>
            new AgentServiceClient(agent).RegisterHostAsync(new RegisterHostRequest { Host = NodeAgent.Tests.Scheduler.HostApiTests.Info("h2") }));
        var leases = await Assert.ThrowsAsync<RpcException>(() => new LeaseServiceClient(agent).ListLeasesAsync(new ListLeasesRequest()));
        var who = await new TokenServiceClient(agent).WhoAmIAsync(new WhoAmIRequest());

        Assert.All(new[] { other, register, leases }, e => Assert.Equal(StatusCode.PermissionDenied, e.Status));
        Assert.Equal((NodeAgent.Contract.V1.Role.Agent, "h1"), (who.Role, who.HostId));
        Assert.StartsWith("certificate ", who.TokenId, StringComparison.Ordinal);
        using var admin = Channel(secured, secured.Admin);
        Assert.Equal(["h1"], (await new HostServiceClient(admin).ListHostsAsync(new ListHostsRequest())).Hosts.Select(h => h.Info.HostId));
    }

    [Fact(Timeout = 30_000)]
    public async Task ClientCertificate_OfAnotherCa_OrWithoutClientAuthentication_IsRefused()
    {
        await using var secured = await StartAsync();
        using var rogue = new TestPki("rogue CA");
        using var foreign = Channel(secured, client: rogue.Client("h1"));
        using var serverUsage = Channel(secured, client: _pki.Client("h1", clientAuthentication: false));

        var foreignError = await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(foreign).WhoAmIAsync(new WhoAmIRequest()));
        var usageError = await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(serverUsage).WhoAmIAsync(new WhoAmIRequest()));

        Assert.Equal((StatusCode.Unavailable, StatusCode.Unavailable), (foreignError.Status, usageError.Status));
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutClientCa_ACertificateIsNotAskedFor_AndAnAgentNeedsItsToken()
    {
        await using var secured = await StartAsync(clientCa: false);
        using var agent = Channel(secured, client: _pki.Client("h1"));

        var error = await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(agent).WhoAmIAsync(new WhoAmIRequest()));

        Assert.Equal(StatusCode.Unauthenticated, error.Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reload_RenewedCertificateFiles_ServedFromTheNextConnection()
    {
        await using var secured = await StartAsync();
        var tls = secured.Scheduler.Service<SchedulerTls>();
        var options = secured.Scheduler.Service<SchedulerOptions>();
        var before = tls.Certificate!.Thumbprint;
        var (renewed, renewedKey) = _pki.Server("renewed");
        File.Copy(renewed, options.TlsCertificate!, overwrite: true);
        File.Copy(renewedKey, options.TlsKey!, overwrite: true);

        tls.Reload(options);
        string? served = null;
        using var channel = new RpcChannel([secured.Scheduler.Address], new RpcChannelOptions
        {
            ServerCertificateValidation = (_, certificate, _, _) => (served = (certificate as X509Certificate2)?.Thumbprint) is not null,
            DefaultHeaders = new Metadata { { "authorization", "Bearer " + secured.Admin } },
        });
        await new TokenServiceClient(channel).WhoAmIAsync(new WhoAmIRequest());

        Assert.NotEqual(before, served);
        Assert.Equal(tls.Certificate!.Thumbprint, served);
    }

    [Fact]
    public void Configuration_UnreadableOrMismatchedFiles_RefusedNamingTheFile()
    {
        var (certificate, _) = _pki.Server();
        var (_, otherKey) = _pki.Client("h9");
        var https = new SchedulerOptions { Listen = [RpcListenAddress.Parse("https://127.0.0.1:0")] };

        var missing = SchedulerTls.Problems(https with { TlsCertificate = "/nonexistent/cert.pem", TlsKey = "/nonexistent/key.pem" });
        var mismatched = SchedulerTls.Problems(https with { TlsCertificate = certificate, TlsKey = otherKey });
        var again = _pki.Server("again");
        var ca = SchedulerTls.Problems(https with { TlsCertificate = again.Certificate, TlsKey = again.Key, ClientCa = otherKey });

        Assert.Contains("/nonexistent/cert.pem", Assert.Single(missing), StringComparison.Ordinal);
        Assert.Contains(certificate, Assert.Single(mismatched), StringComparison.Ordinal);
        Assert.Contains("holds no certificate", Assert.Single(ca), StringComparison.Ordinal);
        Assert.Contains("tls-cert, tls-key", string.Join('\n', https.Validate()), StringComparison.Ordinal);
    }
}
