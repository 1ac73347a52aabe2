using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Security;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>Who may call what, on a scheduler run with --auth token: one test per rule of docs/security.md.</summary>
public sealed class AuthorizationTests
{
    [Fact(Timeout = 30_000)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task FirstStart_WritesOneAdminToken_Mode0600_AndARestartMakesNoOther()
    {
        await using var secured = await SecuredScheduler.StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secured.AdminTokenFile));
        using var channel = secured.Channel(secured.Admin);
        var me = await new TokenServiceClient(channel).WhoAmIAsync(new WhoAmIRequest());
        Assert.Equal((NodeAgent.Contract.V1.Role.Admin, "admin"), (me.Role, me.User));

        // A second bootstrap on the same store (a restart, or another replica) finds a valid admin token and writes nothing.
        var again = Path.Combine(Path.GetDirectoryName(secured.AdminTokenFile)!, "again.token");
        Assert.False(await secured.Scheduler.Service<TokenBook>().BootstrapAsync(again));
        Assert.False(File.Exists(again));
        Assert.False(File.Exists(again + ".new"));
    }

    [Fact(Timeout = 30_000)]
    public async Task NoToken_MalformedToken_UnknownToken_WrongSecret_AllUnauthenticated_WithOneMessageForTheLastThree()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        var user = await secured.UserAsync("alice", "physics");
        var wrongSecret = user[..^3] + (user.EndsWith("AAA", StringComparison.Ordinal) ? "BBB" : "AAA");

        async Task<RpcException> ListAsync(string? token)
        {
            using var channel = secured.Channel(token);
            return await Assert.ThrowsAsync<RpcException>(() => new LeaseServiceClient(channel).ListLeasesAsync(new ListLeasesRequest()));
        }

        var none = await ListAsync(null);
        var malformed = await ListAsync("<xml/>\"; rm -rf /");
        var unknown = await ListAsync("nat_0123456789abcdef_" + new string('A', 43));
        var forged = await ListAsync(wrongSecret);

        Assert.All(new[] { none, malformed, unknown, forged }, e => Assert.Equal(StatusCode.Unauthenticated, e.Status));
        Assert.Contains("ws admin token create", none.Message, StringComparison.Ordinal);
        Assert.Equal(unknown.Message, forged.Message);
        Assert.Equal(unknown.Message, malformed.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task User_SeesAndChangesOwnProjectsLeasesOnly_AnotherProjectsLeaseIsNotFoundLikeAMissingOne()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        await secured.HostAsync("h1");
        using var alice = secured.Channel(await secured.UserAsync("alice", "physics"));
        using var carol = secured.Channel(await secured.UserAsync("carol", "physics"));
        using var bob = secured.Channel(await secured.UserAsync("bob", "biology"));
        using var admin = secured.Channel(secured.Admin);

        var lease = await new LeaseServiceClient(alice).CreateLeaseAsync(SecuredScheduler.Lease());
        var bobs = await new LeaseServiceClient(bob).CreateLeaseAsync(SecuredScheduler.Lease());

        Assert.Equal(("alice", "physics"), (lease.Owner, lease.Project));
        Assert.Equal([lease.Id], (await new LeaseServiceClient(carol).ListLeasesAsync(new ListLeasesRequest())).Leases.Select(l => l.Id));
        Assert.Equal([bobs.Id], (await new LeaseServiceClient(bob).ListLeasesAsync(new ListLeasesRequest())).Leases.Select(l => l.Id));
        Assert.Equal(2, (await new LeaseServiceClient(admin).ListLeasesAsync(new ListLeasesRequest())).Leases.Count);

        var hidden = await Assert.ThrowsAsync<RpcException>(() => new LeaseServiceClient(bob).GetLeaseAsync(new GetLeaseRequest { Id = lease.Id }));
        var missing = await Assert.ThrowsAsync<RpcException>(() => new LeaseServiceClient(bob).GetLeaseAsync(new GetLeaseRequest { Id = "w-missing" }));
        Assert.Equal((StatusCode.NotFound, StatusCode.NotFound), (hidden.Status, missing.Status));
        Assert.Equal(missing.Message.Replace("w-missing", "ID", StringComparison.Ordinal), hidden.Message.Replace(lease.Id, "ID", StringComparison.Ordinal));
        foreach (var call in new Func<Task>[]
        {
            () => new LeaseServiceClient(bob).ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id }),
            () => new LeaseServiceClient(bob).ExtendLeaseAsync(new ExtendLeaseRequest { Id = lease.Id, By = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)) }),
            () => new LeaseServiceClient(bob).SetLeasePowerAsync(new SetLeasePowerRequest { Id = lease.Id, Action = PowerAction.Stop }),
        })
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(call)).Status);
        }

        // Nothing bob tried changed it; carol, in its project, may release it.
        var after = await new LeaseServiceClient(alice).GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });
        Assert.Equal((lease.ExpiresAt, PowerState.Running), (after.ExpiresAt, after.Power));
        var released = await new LeaseServiceClient(carol).ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        Assert.Contains(released.State, new[] { LeaseState.Stopping, LeaseState.Ended });
    }

    [Fact(Timeout = 30_000)]
    public async Task User_AdminMethods_PermissionDenied_AdminMayCallThem()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        using var user = secured.Channel(await secured.UserAsync("alice", "physics"));
        using var admin = secured.Channel(secured.Admin);

        var refusals = new List<RpcException>();
        foreach (var call in new Func<RpcChannel, Task>[]
        {
            c => new HostServiceClient(c).ListHostsAsync(new ListHostsRequest()),
            c => new QuotaServiceClient(c).SetQuotaAsync(new SetQuotaRequest { Project = "physics", Limits = new QuotaLimits { MaxVcpus = 100 } }),
            c => new QuotaServiceClient(c).ListQuotasAsync(new ListQuotasRequest()),
            c => new ImageServiceClient(c).RetireImageAsync(new RetireImageRequest { Name = "debian-12" }),
            c => new TokenServiceClient(c).ListTokensAsync(new ListTokensRequest()),
            c => new TokenServiceClient(c).CreateTokenAsync(new CreateTokenRequest { User = "alice", Role = NodeAgent.Contract.V1.Role.Admin }),
        })
        {
            refusals.Add(await Assert.ThrowsAsync<RpcException>(() => call(user)));
            await call(admin);
        }

        Assert.All(refusals, e => Assert.Equal(StatusCode.PermissionDenied, e.Status));
        Assert.All(refusals, e => Assert.Contains("is for admins", e.Message, StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task User_ReadsOwnProjectsQuotaAndUsage_OthersPermissionDenied()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        using var user = secured.Channel(await secured.UserAsync("alice", "physics"));

        Assert.Equal("physics", (await new QuotaServiceClient(user).GetQuotaAsync(new GetQuotaRequest())).Project);
        var quota = await Assert.ThrowsAsync<RpcException>(() => new QuotaServiceClient(user).GetQuotaAsync(new GetQuotaRequest { Project = "biology" }));
        var usage = await Assert.ThrowsAsync<RpcException>(() => new UsageServiceClient(user).GetUsageAsync(new GetUsageRequest { Project = "biology" }));
        await new UsageServiceClient(user).GetUsageAsync(new GetUsageRequest { Project = "physics" });

        Assert.Equal((StatusCode.PermissionDenied, StatusCode.PermissionDenied), (quota.Status, usage.Status));
    }

    [Fact(Timeout = 30_000)]
    public async Task AgentToken_ActsForItsHostOnly_AndCallsNoUserMethod_UsersCallNoAgentMethod()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        var token = await secured.HostAsync("h1");
        using var agent = secured.Channel(token);
        using var user = secured.Channel(await secured.UserAsync("alice", "physics"));
        var other = NodeAgent.Tests.Scheduler.HostApiTests.Info("h2");

        var register = await Assert.ThrowsAsync<RpcException>(() => new AgentServiceClient(agent).RegisterHostAsync(new RegisterHostRequest { Host = other }));
        var heartbeat = await Assert.ThrowsAsync<RpcException>(() =>
            new AgentServiceClient(agent).HeartbeatAsync(new HeartbeatRequest { HostId = "h2", Capacity = other.Capacity }));
        var report = await Assert.ThrowsAsync<RpcException>(() => new AgentServiceClient(agent).ReportWorkspaceStatusAsync(new ReportWorkspaceStatusRequest { HostId = "h2" }));
        var usage = await Assert.ThrowsAsync<RpcException>(() => new UsageServiceClient(agent).ReportUsageAsync(new ReportUsageRequest { HostId = "h2" }));
        var leases = await Assert.ThrowsAsync<RpcException>(() => new LeaseServiceClient(agent).ListLeasesAsync(new ListLeasesRequest()));
        var userHeartbeat = await Assert.ThrowsAsync<RpcException>(() =>
            new AgentServiceClient(user).HeartbeatAsync(new HeartbeatRequest { HostId = "h1", Capacity = other.Capacity }));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var watch = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in new AgentServiceClient(agent).WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "h2" },
                new NodeAgent.Rpc.Client.CallOptions { CancellationToken = cancel.Token }))
            {
            }
        });

        Assert.All(new[] { register, heartbeat, report, usage, leases, userHeartbeat, watch }, e => Assert.Equal(StatusCode.PermissionDenied, e.Status));
        Assert.Contains("for host h1", heartbeat.Message, StringComparison.Ordinal);
        using var admin = secured.Channel(secured.Admin);
        Assert.Equal(["h1"], (await new HostServiceClient(admin).ListHostsAsync(new ListHostsRequest())).Hosts.Select(h => h.Info.HostId));
    }

    [Fact(Timeout = 30_000)]
    public async Task RevokedToken_RefusedAtOnce_ExpiredToken_RefusedFromItsEnd()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var secured = await SecuredScheduler.StartAsync(clock);
        var revoked = await secured.CreateAsync(new CreateTokenRequest { User = "alice", Project = "physics", Role = NodeAgent.Contract.V1.Role.User });
        var expiring = await secured.UserAsync("bob", "physics", TimeSpan.FromHours(1));
        using var a = secured.Channel(revoked.Secret);
        using var b = secured.Channel(expiring);
        using var admin = secured.Channel(secured.Admin);
        await new TokenServiceClient(a).WhoAmIAsync(new WhoAmIRequest());
        await new TokenServiceClient(b).WhoAmIAsync(new WhoAmIRequest());

        var gone = await new TokenServiceClient(admin).RevokeTokenAsync(new RevokeTokenRequest { Id = revoked.Token.Id });
        clock.Advance(TimeSpan.FromHours(1));

        Assert.Equal("admin", gone.RevokedBy);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(a).WhoAmIAsync(new WhoAmIRequest()))).Status);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => new TokenServiceClient(b).WhoAmIAsync(new WhoAmIRequest()))).Status);
        var listed = await new TokenServiceClient(admin).ListTokensAsync(new ListTokensRequest { IncludeRevoked = true });
        Assert.DoesNotContain(listed.Tokens, t => t.Id == revoked.Token.Id && t.RevokedAt is null);
        Assert.DoesNotContain((await new TokenServiceClient(admin).ListTokensAsync(new ListTokensRequest())).Tokens, t => t.Id == revoked.Token.Id);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("", "physics", NodeAgent.Contract.V1.Role.User, "", "user")]
    [InlineData("alice", "", NodeAgent.Contract.V1.Role.User, "", "project")]
    [InlineData("alice", "physics", NodeAgent.Contract.V1.Role.User, "h1", "host_id")]
    [InlineData("", "", NodeAgent.Contract.V1.Role.Agent, "", "host_id")]
    [InlineData("alice", "", NodeAgent.Contract.V1.Role.Agent, "h1", "agent token names its host only")]
    [InlineData("../../etc", "physics", NodeAgent.Contract.V1.Role.User, "", "user")]
    [InlineData("alice\0", "physics", NodeAgent.Contract.V1.Role.User, "", "user")]
    [InlineData("alice", "physics", NodeAgent.Contract.V1.Role.Unspecified, "", "role")]
    public async Task CreateToken_Invalid_InvalidArgumentNamingTheField(string user, string project, NodeAgent.Contract.V1.Role role, string host, string named)
    {
        await using var secured = await SecuredScheduler.StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => secured.CreateAsync(new CreateTokenRequest { User = user, Project = project, Role = role, HostId = host }));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryMethodTheSchedulerServes_HasAnAccessRule()
    {
        var registry = new RpcServiceRegistry();
        foreach (var service in new IRpcService[]
        {
            new AgentServiceBaseProbe(), new HostServiceBaseProbe(), new LeaseServiceBaseProbe(), new ImageServiceBaseProbe(),
            new UsageServiceBaseProbe(), new QuotaServiceBaseProbe(), new TokenServiceBaseProbe(),
        })
        {
            registry.Add(service);
        }

        var served = new RpcServer(registry, new RpcServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger<RpcServer>.Instance).Methods;
        Assert.Equal(served.Order(StringComparer.Ordinal), MethodAccess.Methods.Order(StringComparer.Ordinal));
    }

    private sealed class AgentServiceBaseProbe : AgentServiceBase;

    private sealed class HostServiceBaseProbe : HostServiceBase;

    private sealed class LeaseServiceBaseProbe : LeaseServiceBase;

    private sealed class ImageServiceBaseProbe : ImageServiceBase;

    private sealed class UsageServiceBaseProbe : UsageServiceBase;

    private sealed class QuotaServiceBaseProbe : QuotaServiceBase;

    private sealed class TokenServiceBaseProbe : TokenServiceBase;
}
