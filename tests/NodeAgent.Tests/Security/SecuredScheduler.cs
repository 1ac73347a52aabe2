using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using AuthMode = NodeAgent.Scheduler.Security.AuthMode;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>
/// A scheduler run with --auth token (SQLite, or PostgreSQL in the second pass), its first admin token as it wrote it,
/// and channels that present a token.
/// </summary>
internal sealed class SecuredScheduler : IAsyncDisposable
{
    private readonly TempDirectory _tokens;

    private SecuredScheduler(RunningScheduler scheduler, TempDirectory tokens, string adminTokenFile)
    {
        Scheduler = scheduler;
        _tokens = tokens;
        AdminTokenFile = adminTokenFile;
        Admin = File.ReadAllText(adminTokenFile).Trim();
    }

    public RunningScheduler Scheduler { get; }

    public string AdminTokenFile { get; }

    /// <summary>The first admin token, read from the file the scheduler wrote.</summary>
    public string Admin { get; }

    /// <param name="configure">More settings, e.g. an https:// address and its certificate.</param>
    public static async Task<SecuredScheduler> StartAsync(TimeProvider? time = null, Func<NodeAgent.Scheduler.SchedulerOptions, NodeAgent.Scheduler.SchedulerOptions>? configure = null)
    {
        var tokens = new TempDirectory();
        var file = Path.Combine(tokens.Path, "admin.token");
        var scheduler = await RunningScheduler.StartAsync(o => (configure ?? (x => x))(o with { Auth = AuthMode.Token, AdminTokenFile = file }), time);
        return new SecuredScheduler(scheduler, tokens, file);
    }

    /// <summary>A channel whose every call carries <paramref name="token"/> (none: no authorization header).</summary>
    public RpcChannel Channel(string? token) => new(
        [Scheduler.Address],
        new RpcChannelOptions { DefaultHeaders = token is null ? null : new Metadata { { "authorization", "Bearer " + token } } });

    public async Task<CreatedToken> CreateAsync(CreateTokenRequest request)
    {
        using var channel = Channel(Admin);
        return await new TokenServiceClient(channel).CreateTokenAsync(request);
    }

    public async Task<string> UserAsync(string user, string project, TimeSpan? expiresIn = null)
    {
        var request = new CreateTokenRequest { User = user, Project = project, Role = Role.User };
        if (expiresIn is { } e)
        {
            request.ExpiresIn = Duration.FromTimeSpan(e);
        }

        return (await CreateAsync(request)).Secret;
    }

    public async Task<string> AgentAsync(string host) => (await CreateAsync(new CreateTokenRequest { HostId = host, Role = Role.Agent })).Secret;

    /// <summary>Registers <paramref name="host"/> with its own agent token and heartbeats it, so leases can be placed.</summary>
    public async Task<string> HostAsync(string host)
    {
        var token = await AgentAsync(host);
        using var channel = Channel(token);
        var agents = new AgentServiceClient(channel);
        var info = NodeAgent.Tests.Scheduler.HostApiTests.Info(host);
        await agents.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await agents.HeartbeatAsync(new HeartbeatRequest { HostId = host, Capacity = info.Capacity, Load = new HostLoad() });
        return token;
    }

    public static CreateLeaseRequest Lease() => new()
    {
        Image = "debian-12",
        Resources = new NodeAgent.Contract.V1.Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
    };

    public async ValueTask DisposeAsync()
    {
        await Scheduler.DisposeAsync();
        _tokens.Dispose();
    }
}
