using NodeAgent.Contract.V1;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>
/// Debian's grpcio (code nobody here wrote), given only the .proto files and a handful of tokens, tries what they must
/// not allow against a scheduler run with --auth token: forbidden calls, a forged secret, another project's lease, an
/// agent token for the wrong host, a stolen token after its revocation, and over TLS an agent's client certificate for
/// the wrong host (tests/interop/security_client.py).
/// </summary>
public sealed class PythonSecurityClientTests : IClassFixture<PythonSecurityClientTests.ClientRun>
{
    private readonly ClientRun _run;

    public PythonSecurityClientTests(ClientRun run) => _run = run;

    [Theory]
    [InlineData("no_token_unauthenticated")]
    [InlineData("garbage_token_unauthenticated")]
    [InlineData("forged_secret_same_answer_as_unknown")]
    [InlineData("user_list_hosts_denied")]
    [InlineData("user_set_quota_denied")]
    [InlineData("user_retire_image_denied")]
    [InlineData("user_create_token_denied")]
    [InlineData("user_heartbeat_denied")]
    [InlineData("other_projects_lease_hidden")]
    [InlineData("agent_token_for_wrong_host_denied")]
    [InlineData("agent_cannot_watch_other_hosts_workspaces")]
    [InlineData("agent_list_leases_denied")]
    [InlineData("stolen_token_after_revocation_unauthenticated")]
    [InlineData("tls_agent_certificate_registers_its_own_host")]
    [InlineData("tls_agent_certificate_for_wrong_host_denied")]
    public void GrpcioClient_TriesWhatATokenMustNotAllow_Refused(string check)
        => _run.Checks.AssertPassed(check);

    [Fact]
    public void GrpcioClient_AllChecks_ExitZero() => Assert.True(_run.Checks.ExitCode == 0, _run.Checks.Output);

    /// <summary>Starts the scheduler with tokens, makes the tokens the script needs, and runs it once for the whole class.</summary>
    public sealed class ClientRun : IAsyncLifetime
    {
        public PythonChecks Checks { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Repository.RequirePythonGrpc();
            await using var secured = await SecuredScheduler.StartAsync();
            var agent = await secured.HostAsync("py-secure-host");
            var user = await secured.UserAsync("alice", "physics");
            var other = await secured.UserAsync("bob", "biology");
            using (var channel = secured.Channel(user))
            {
                await new LeaseServiceClient(channel).CreateLeaseAsync(SecuredScheduler.Lease());
            }

            // A second scheduler, over TLS with a client CA, for the agent certificate checks.
            using var pki = new TestPki();
            var (certificate, key) = pki.Server();
            await using var tls = await SecuredScheduler.StartAsync(configure: o => o with
            {
                Listen = [NodeAgent.Rpc.Server.RpcListenAddress.Parse("https://127.0.0.1:0")], TlsCertificate = certificate, TlsKey = key, ClientCa = pki.CaFile,
            });
            var (agentCertificate, agentKey) = pki.Client("py-tls-host");
            Checks = await PythonChecks.RunAsync("security_client.py",
                "--target", secured.Scheduler.Address.Authority,
                "--admin", secured.Admin, "--user", user, "--other-user", other, "--agent", agent, "--agent-host", "py-secure-host",
                "--tls-target", tls.Scheduler.Address.Authority, "--ca", pki.CaFile, "--agent-cert", agentCertificate, "--agent-key", agentKey,
                "--agent-cert-host", "py-tls-host");
        }

        public Task DisposeAsync() => Task.CompletedTask;
    }
}
