using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Lease groups through the scheduler's real API (CreateLeases): several workspaces placed whole or not at all, with
/// their addresses, anti-affinity, quota, reservations, idempotency, dry runs and bad requests. Hosts are played over
/// the agent protocol.
/// </summary>
public sealed class LeaseGroupApiTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _alice = null!;
    private RpcChannel _admin = null!;
    private LeaseServiceClient _leases = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(
            o => o with { Networks = [NetworkDefinition.Parse("lab=10.77.0.0/24,gateway=10.77.0.1")], AddressQuarantine = TimeSpan.FromMinutes(10) }, _clock);
        _alice = Channel("alice");
        _admin = Channel("admin");
        _leases = new LeaseServiceClient(_alice);
    }

    public async Task DisposeAsync()
    {
        _alice.Dispose();
        _admin.Dispose();
        await _scheduler.DisposeAsync();
    }

    private RpcChannel Channel(string user) =>
        new(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", user } } });

    private async Task HostsAsync(params string[] ids)
    {
        foreach (var id in ids)
        {
            await new FakeAgent(_admin, id).RegisterAsync(vcpus: 4, "lab");
        }
    }

    private static CreateLeasesRequest Group(uint count, uint vcpus = 2, PlacementConstraints? placement = null, string requestId = "", bool dryRun = false) => new()
    {
        Count = count,
        Lease = new CreateLeaseRequest
        {
            Image = "debian-12",
            Resources = new Resources { Vcpus = vcpus, MemoryBytes = 512UL << 20 },
            Duration = Duration.FromTimeSpan(TimeSpan.FromHours(2)),
            Placement = placement,
            RequestId = requestId,
            DryRun = dryRun,
        },
    };

    private async Task<uint> HeldVcpusAsync() =>
        (uint)(await new HostServiceClient(_admin).ListHostsAsync(new ListHostsRequest())).Hosts.Sum(h => h.Allocated.Vcpus);

    private async Task<List<Lease>> ListAsync(string group = "") =>
        (await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true, Group = group })).Leases.ToList();

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_FourThatFitTwoHosts_AllPlacedInOneGroupEachWithItsOwnAddress()
    {
        await HostsAsync("h1", "h2");
        var h1 = new FakeAgent(_admin, "h1");
        var versionBefore = await h1.HeartbeatAsync();

        var group = await _leases.CreateLeasesAsync(Group(4));

        Assert.Matches("^g-[a-km-np-z2-9]{15}$", group.Group);
        Assert.Equal(4, group.Leases.Count);
        Assert.All(group.Leases, l => Assert.Equal((LeaseState.Starting, group.Group), (l.State, l.Group)));
        Assert.Equal(["h1", "h1", "h2", "h2"], group.Leases.Select(l => l.HostId).Order(StringComparer.Ordinal));
        Assert.Equal(4, group.Leases.Select(l => l.Networks.Single().Address).Distinct().Count());
        Assert.Equal(8u, await HeldVcpusAsync());
        Assert.Equal(group.Leases.Select(l => l.Id).Order(StringComparer.Ordinal), (await ListAsync(group.Group)).Select(l => l.Id).Order(StringComparer.Ordinal));
        var onH1 = group.Leases.Where(l => l.HostId == "h1").Select(l => l.Id).Order(StringComparer.Ordinal).ToList();
        var desired = await h1.DesiredAsync();
        Assert.Equal(onH1, desired.Workspaces.Select(w => w.Id).Order(StringComparer.Ordinal));

        // The placements on the host gave it a new desired version, the one its heartbeat now answers with.
        Assert.NotEqual(versionBefore, desired.Version);
        Assert.Equal(desired.Version, await h1.HeartbeatAsync([.. onH1]));
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_HostsLoadedALittleDifferently_TheGroupIsSpreadOverThem()
    {
        // Room for 8 members on each. Counted as a spread group of its own, a member on a host outweighs the others'
        // slightly higher load; otherwise h1 would take members until its allocation did (h1, h1, h2, h1).
        var hosts = new[] { ("h1", 0.10), ("h2", 0.14), ("h3", 0.18), ("h4", 0.22) }.Select(h => (Agent: new FakeAgent(_admin, h.Item1), Cpu: h.Item2)).ToList();
        foreach (var (agent, _) in hosts)
        {
            await agent.RegisterAsync(vcpus: 16, "lab");
        }

        // Long enough after registering for the smoothed load to be the one measured now.
        _clock.Advance(TimeSpan.FromMinutes(10));
        foreach (var (agent, cpu) in hosts)
        {
            await agent.HeartbeatWithLoadAsync(cpu);
        }

        var group = await _leases.CreateLeasesAsync(Group(4));

        Assert.Equal(["h1", "h2", "h3", "h4"], group.Leases.Select(l => l.HostId).Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_OneMoreThanFits_EveryMemberFailedWithTheReasonAndNothingHeld()
    {
        await HostsAsync("h1", "h2");

        var group = await _leases.CreateLeasesAsync(Group(5));
        var alone = await _leases.CreateLeaseAsync(Group(1, vcpus: 4).Lease);

        Assert.Equal(5, group.Leases.Count);
        Assert.All(group.Leases, l => Assert.Equal((LeaseState.Failed, string.Empty, 0), (l.State, l.HostId, l.Networks.Count)));
        Assert.Single(group.Leases.Select(l => l.StateReason).Distinct());
        Assert.Equal(
            "workspace 5 of the group of 5 cannot be placed: no host can take it: 2 hosts: insufficient vCPUs; " +
            "a group is placed whole or not at all, so none of it was",
            group.Leases[0].StateReason);
        // The four placed before the fifth failed were rolled back: their capacity and addresses are free.
        Assert.Equal(LeaseState.Starting, alone.State);
        Assert.Equal("10.77.0.2", alone.Networks.Single().Address);
        Assert.Equal(4u, await HeldVcpusAsync());
        Assert.Equal(5, (await ListAsync(group.Group)).Count(l => l.State == LeaseState.Failed));
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_AntiAffinity_EachMemberOnAHostOfItsOwnAndOneTooManyRefused()
    {
        await HostsAsync("h1", "h2", "h3");
        var spread = new PlacementConstraints { AntiAffinityGroup = "mpi" };

        var three = await _leases.CreateLeasesAsync(Group(3, vcpus: 1, spread));
        var four = await _leases.CreateLeasesAsync(Group(4, vcpus: 1, new PlacementConstraints { AntiAffinityGroup = "db" }));

        Assert.Equal(["h1", "h2", "h3"], three.Leases.Select(l => l.HostId).Order(StringComparer.Ordinal));
        Assert.All(four.Leases, l => Assert.Equal(LeaseState.Failed, l.State));
        Assert.StartsWith("workspace 4 of the group of 4 cannot be placed: no host can take it: 3 hosts: runs a workspace of anti-affinity group db", four.Leases[0].StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_SameRequestIdAgain_TheSameGroupAndNothingMore()
    {
        await HostsAsync("h1");

        var first = await _leases.CreateLeasesAsync(Group(2, vcpus: 1, requestId: "run-42"));
        var again = await _leases.CreateLeasesAsync(Group(2, vcpus: 1, requestId: "run-42"));

        Assert.Equal(first.Group, again.Group);
        Assert.Equal(first.Leases.Select(l => l.Id).Order(StringComparer.Ordinal), again.Leases.Select(l => l.Id).Order(StringComparer.Ordinal));
        Assert.Equal(2, (await ListAsync()).Count);
        Assert.Equal(2u, await HeldVcpusAsync());
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_QuotaHoldsFewerWorkspaces_TheWholeGroupRefusedNamingTheQuota()
    {
        await HostsAsync("h1", "h2");
        await new QuotaServiceClient(_admin).SetQuotaAsync(new SetQuotaRequest { Project = "alice", Limits = new QuotaLimits { MaxWorkspaces = 3 } });

        var group = await _leases.CreateLeasesAsync(Group(4, vcpus: 1));
        var three = await _leases.CreateLeasesAsync(Group(3, vcpus: 1));

        Assert.All(group.Leases, l => Assert.Equal(LeaseState.Failed, l.State));
        Assert.StartsWith("workspace 4 of the group of 4 is refused: ", group.Leases[0].StateReason, StringComparison.Ordinal);
        Assert.Contains("3 workspaces", group.Leases[0].StateReason, StringComparison.Ordinal);
        Assert.All(three.Leases, l => Assert.Equal(LeaseState.Starting, l.State));
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_ReservationGroup_EachWindowOnAHostThatKeepsItOrNoneAtAll()
    {
        await HostsAsync("h1", "h2");
        var start = Timestamp.FromDateTimeOffset(_clock.GetUtcNow().AddHours(3));
        CreateLeasesRequest Reserve(uint count)
        {
            var request = Group(count, vcpus: 4);
            request.Lease.Kind = LeaseKind.Reservation;
            request.Lease.Start = start;
            return request;
        }

        var two = await _leases.CreateLeasesAsync(Reserve(2));
        var more = await _leases.CreateLeasesAsync(Reserve(1));

        Assert.All(two.Leases, l => Assert.Equal(LeaseState.Pending, l.State));
        Assert.Equal(["h1", "h2"], two.Leases.Select(l => l.HostId).Order(StringComparer.Ordinal));
        Assert.Equal(LeaseState.Failed, more.Leases.Single().State);
        Assert.StartsWith("workspace 1 of the group of 1 cannot be reserved: ", more.Leases[0].StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeases_DryRun_SaysWhereEachWouldGoAndStoresNothing()
    {
        await HostsAsync("h1", "h2");

        var plan = await _leases.CreateLeasesAsync(Group(4, dryRun: true));
        var refused = await _leases.CreateLeasesAsync(Group(5, dryRun: true));

        Assert.Empty(plan.Group);
        Assert.All(plan.Leases, l => Assert.Equal((string.Empty, LeaseState.Pending), (l.Id, l.State)));
        Assert.Equal(["h1", "h1", "h2", "h2"], plan.Leases.Select(l => l.HostId).Order(StringComparer.Ordinal));
        Assert.Equal($"workspace 1 of 4 would go to {plan.Leases[0].HostId}", plan.Leases[0].StateReason);
        Assert.All(refused.Leases, l => Assert.Empty(l.HostId));
        Assert.StartsWith("workspace 5 of the group of 5 cannot be placed", refused.Leases[0].StateReason, StringComparison.Ordinal);
        Assert.Empty(await ListAsync());
        Assert.Equal(0u, await HeldVcpusAsync());
    }

    [Theory(Timeout = 10_000)]
    [InlineData(0u, LeaseKind.Immediate, "CreateLeases: count is 0; it must be between 1 and 1000")]
    [InlineData(1001u, LeaseKind.Immediate, "CreateLeases: count is 1001; it must be between 1 and 1000")]
    [InlineData(2u, LeaseKind.BestEffort, "CreateLeases: a best-effort lease cannot be asked for in a group")]
    public async Task CreateLeases_BadCountOrBestEffort_InvalidArgumentAndNothingStored(uint count, LeaseKind kind, string expected)
    {
        await HostsAsync("h1");
        var request = Group(count, vcpus: 1);
        request.Lease.Kind = kind;

        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeasesAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Empty(await ListAsync());
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLeasesAndListLeases_NoLeaseOrNotAGroupId_InvalidArgumentSayingWhat()
    {
        var missing = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeasesAsync(new CreateLeasesRequest { Count = 2 }));
        var notAGroup = await Assert.ThrowsAsync<RpcException>(() => _leases.ListLeasesAsync(new ListLeasesRequest { Group = "w-abcdefghij" }));

        Assert.Equal(StatusCode.InvalidArgument, missing.Status);
        Assert.Contains("lease is missing", missing.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, notAGroup.Status);
        Assert.Contains("group 'w-abcdefghij' is not a group id", notAGroup.Message, StringComparison.Ordinal);
    }
}
