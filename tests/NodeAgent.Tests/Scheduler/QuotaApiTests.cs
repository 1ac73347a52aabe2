using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Quotas through the scheduler's real API, and leases CreateLease refuses on them; one host is played over the agent protocol.</summary>
public sealed class QuotaApiTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private RunningScheduler _scheduler = null!;
    private RpcChannel _alice = null!;
    private RpcChannel _admin = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: _clock);
        _alice = Channel("alice");
        _admin = Channel("admin");
        await new FakeAgent(_admin, "h1").RegisterAsync(vcpus: 64);
    }

    public async Task DisposeAsync()
    {
        _alice.Dispose();
        _admin.Dispose();
        await _scheduler.DisposeAsync();
    }

    /// <summary>A channel that names <paramref name="user"/> as the caller, as ws does.</summary>
    private RpcChannel Channel(string user) =>
        new(_scheduler.Address, new RpcChannelOptions { DefaultHeaders = new Metadata { { "x-nodeagent-user", user } } });

    private Task<Quota> SetAsync(string project, QuotaLimits limits, bool reset = false) =>
        new QuotaServiceClient(_admin).SetQuotaAsync(new SetQuotaRequest { Project = project, Limits = limits, Reset = reset });

    private static CreateLeaseRequest Lease(uint vcpus = 1, TimeSpan? duration = null) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = vcpus, MemoryBytes = 128UL << 20 },
        Duration = Duration.FromTimeSpan(duration ?? TimeSpan.FromHours(2)),
    };

    [Fact(Timeout = 10_000)]
    public async Task SetGetList_DefaultAndProject_RoundTripWithWhereEachLimitComesFrom()
    {
        await SetAsync("*", new QuotaLimits { MaxVcpus = 16, MaxMemoryBytes = 64UL << 30, MaxWorkspaces = 8, MaxLeaseDuration = Duration.FromTimeSpan(TimeSpan.FromDays(7)) });
        var set = await SetAsync("alice", new QuotaLimits { MaxVcpus = 32, CoreHoursBudget = 1000, Period = Duration.FromTimeSpan(TimeSpan.FromDays(30)) });

        var alice = await new QuotaServiceClient(_alice).GetQuotaAsync(new GetQuotaRequest());
        var bob = await new QuotaServiceClient(_alice).GetQuotaAsync(new GetQuotaRequest { Project = "bob" });
        var list = await new QuotaServiceClient(_alice).ListQuotasAsync(new ListQuotasRequest());

        Assert.Equal(set, alice);
        Assert.Equal("alice", alice.Project);
        Assert.Equal(
            new QuotaLimits
            {
                MaxVcpus = 32, MaxMemoryBytes = 64UL << 30, MaxWorkspaces = 8, CoreHoursBudget = 1000,
                Period = Duration.FromTimeSpan(TimeSpan.FromDays(30)), MaxLeaseDuration = Duration.FromTimeSpan(TimeSpan.FromDays(7)),
            },
            alice.Limits);
        Assert.Equal(new QuotaLimits { MaxVcpus = 32, CoreHoursBudget = 1000, Period = Duration.FromTimeSpan(TimeSpan.FromDays(30)) }, alice.Own);
        Assert.Equal(("admin", _clock.GetUtcNow()), (alice.UpdatedBy, alice.UpdatedAt.ToDateTimeOffset()));
        Assert.Equal(Timestamp.FromDateTimeOffset(_clock.GetUtcNow().AddDays(-30)), alice.Use.WindowStart);
        Assert.Equal(new QuotaLimits(), bob.Own);
        Assert.Equal(16u, bob.Limits.MaxVcpus);
        Assert.Null(bob.UpdatedAt);
        Assert.Equal(["*", "alice"], list.Quotas.Select(q => q.Project));
        Assert.Null(list.Quotas[0].Use);
        Assert.Equal(alice, list.Quotas[1]);
    }

    [Fact(Timeout = 10_000)]
    public async Task SetQuota_SecondChange_KeepsEarlierLimitsAndResetDropsThem()
    {
        await SetAsync("alice", new QuotaLimits { MaxVcpus = 32 });
        var both = await SetAsync("alice", new QuotaLimits { MaxWorkspaces = 3 });
        var reset = await SetAsync("alice", new QuotaLimits(), reset: true);

        Assert.Equal(new QuotaLimits { MaxVcpus = 32, MaxWorkspaces = 3 }, both.Own);
        Assert.Equal(new QuotaLimits(), reset.Own);
        Assert.Equal(0u, reset.Limits.MaxVcpus);
        Assert.Equal(["*"], (await new QuotaServiceClient(_admin).ListQuotasAsync(new ListQuotasRequest())).Quotas.Select(q => q.Project));
    }

    [Fact(Timeout = 10_000)]
    public async Task SetQuota_EveryFieldWrong_InvalidArgumentNamingEachAtOnce()
    {
        var request = new SetQuotaRequest
        {
            Project = "al\0ice",
            Limits = new QuotaLimits
            {
                MaxVcpus = 1u << 21,
                MaxMemoryBytes = 1UL << 61,
                CoreHoursBudget = double.NaN,
                Period = new Duration { Seconds = 0 },
                MaxLeaseDuration = new Duration { Seconds = long.MaxValue },
            },
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => new QuotaServiceClient(_admin).SetQuotaAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.StartsWith("SetQuota: project 'al\\u0000ice' has '\\u0000' at position 2", error.Message, StringComparison.Ordinal);
        foreach (var field in new[] { "limits.max_vcpus is 2097152", "limits.max_memory_bytes is 2305843009213693952", "limits.core_hours_budget is NaN", "limits.period is 0s", "limits.max_lease_duration is 9223372036854775807s" })
        {
            Assert.Contains(field, error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(["*"], (await new QuotaServiceClient(_admin).ListQuotasAsync(new ListQuotasRequest())).Quotas.Select(q => q.Project));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("", "project is empty; name a project, or '*' for the default quota")]
    [InlineData("alice", "a budget of 10 core-hours needs a period it is spent in; give one, e.g. --period 30d")]
    public async Task SetQuota_NoProjectOrBudgetWithoutPeriod_InvalidArgumentSayingWhatToGive(string project, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => SetAsync(project, new QuotaLimits { CoreHoursBudget = 10 }));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_OverTheVcpuQuota_FailsWithTheRefusalAsReasonAndCountsNothing()
    {
        await SetAsync("alice", new QuotaLimits { MaxVcpus = 2 });
        var leases = new LeaseServiceClient(_alice);
        var first = await leases.CreateLeaseAsync(Lease(vcpus: 2));

        var refused = await leases.CreateLeaseAsync(Lease(vcpus: 1));
        var quota = await new QuotaServiceClient(_alice).GetQuotaAsync(new GetQuotaRequest());

        Assert.Equal(LeaseState.Starting, first.State);
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("project alice's quota of 2 vCPUs would be exceeded by 1 (2 in use + 1 asked); release a lease or ask an admin for more (ws quota show alice)", refused.StateReason);
        Assert.Equal(new QuotaUse { Vcpus = 2, MemoryBytes = 128UL << 20, Workspaces = 1 }, quota.Use);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_LongerThanTheMaximum_FailsNamingBothDurations()
    {
        await SetAsync("*", new QuotaLimits { MaxLeaseDuration = Duration.FromTimeSpan(TimeSpan.FromDays(7)) });

        var refused = await new LeaseServiceClient(_alice).CreateLeaseAsync(Lease(duration: TimeSpan.FromDays(10)));

        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Equal("the lease asks 10d, project alice may lease at most 7d; ask for at most 7d (ws quota show alice)", refused.StateReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task ExtendLease_PastTheMaximumDuration_ResourceExhaustedAndTheEndUnchanged()
    {
        await SetAsync("*", new QuotaLimits { MaxLeaseDuration = Duration.FromTimeSpan(TimeSpan.FromHours(3)) });
        var leases = new LeaseServiceClient(_alice);
        var lease = await leases.CreateLeaseAsync(Lease(duration: TimeSpan.FromHours(2)));

        var error = await Assert.ThrowsAsync<RpcException>(() => leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = lease.Id, By = Duration.FromTimeSpan(TimeSpan.FromHours(2)) }));
        var extended = await leases.ExtendLeaseAsync(new ExtendLeaseRequest { Id = lease.Id, By = Duration.FromTimeSpan(TimeSpan.FromHours(1)) });

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("at most 3h", error.Message, StringComparison.Ordinal);
        Assert.Equal(lease.ExpiresAt.ToDateTimeOffset() + TimeSpan.FromHours(1), extended.ExpiresAt.ToDateTimeOffset());
    }

    [Fact(Timeout = 10_000)]
    public async Task DryRun_OverTheQuota_SaysWhichQuotaAndPlacesNothing()
    {
        await SetAsync("alice", new QuotaLimits { MaxVcpus = 2 });

        var plan = await new LeaseServiceClient(_alice).CreateLeaseAsync(new CreateLeaseRequest(Lease(vcpus: 4)) { DryRun = true });

        Assert.Empty(plan.HostId);
        Assert.StartsWith("project alice's quota of 2 vCPUs would be exceeded by 2", plan.StateReason, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task CreateLease_TwentyRacingForFiveWorkspaces_ExactlyFiveAdmitted()
    {
        await SetAsync("*", new QuotaLimits { MaxWorkspaces = 5 });
        var leases = new LeaseServiceClient(_alice);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => leases.CreateLeaseAsync(Lease()))));

        Assert.Equal(5, results.Count(l => l.State == LeaseState.Starting));
        var refused = results.Where(l => l.State != LeaseState.Starting).ToList();
        Assert.Equal(15, refused.Count);
        Assert.All(refused, l => Assert.Equal(
            "project alice's quota of 5 workspaces would be exceeded by 1 (5 in use + 1 asked); release a lease or ask an admin for more (ws quota show alice)", l.StateReason));
        Assert.Equal(5u, (await new QuotaServiceClient(_alice).GetQuotaAsync(new GetQuotaRequest())).Use.Workspaces);
    }

    [Fact]
    public void QuotaServiceMethods_MatchQuotaProto_PathsTypesAndUnary()
    {
        static (string, string, string, bool) Typed<TRequest, TResponse>(Method<TRequest, TResponse> m)
            where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
            where TResponse : class, Google.Protobuf.IMessage<TResponse>, new() =>
            (m.Path, new TRequest().Descriptor.FullName, new TResponse().Descriptor.FullName, m.Type == MethodType.ServerStreaming);

        var registry = new RpcServiceRegistry().Add(new UnimplementedQuotas());
        var fromProto = QuotaReflection.Descriptor.Services.SelectMany(s => s.Methods)
            .Select(m => ($"/{m.Service.FullName}/{m.Name}", m.InputType.FullName, m.OutputType.FullName, m.IsServerStreaming || m.IsClientStreaming))
            .OrderBy(m => m.Item1, StringComparer.Ordinal);
        var typed = new[] { Typed(QuotaServiceMethods.GetQuota), Typed(QuotaServiceMethods.SetQuota), Typed(QuotaServiceMethods.ListQuotas) }
            .OrderBy(m => m.Item1, StringComparer.Ordinal);

        Assert.Equal(fromProto, typed);
        Assert.Equal(fromProto.Select(m => m.Item1), registry.Paths.Order(StringComparer.Ordinal));
        Assert.Equal("nodeagent.v1", QuotaReflection.Descriptor.Package);
    }

    private sealed class UnimplementedQuotas : QuotaServiceBase;
}
