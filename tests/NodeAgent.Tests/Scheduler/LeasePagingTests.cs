using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// ListLeases a page at a time through the real API: pages in creation order that neither repeat nor skip a lease
/// when leases end between pages, hostile page tokens refused by name, and `ws list` reading every page.
/// </summary>
public sealed class LeasePagingTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(time: _clock);
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        var info = HostApiTests.Info("big", vcpus: 4000);
        info.Capacity.MemoryBytes = 4UL << 40;
        info.Capacity.DiskBytes = 1UL << 50;
        await new AgentServiceClient(_channel).RegisterHostAsync(new RegisterHostRequest { Host = info });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private async Task<List<string>> CreateAsync(int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            var lease = await _leases.CreateLeaseAsync(new CreateLeaseRequest
            {
                Image = "debian-12",
                Resources = new Resources { Vcpus = 1, MemoryBytes = 128UL << 20 },
                Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            });
            Assert.Equal(LeaseState.Starting, lease.State);
            ids.Add(lease.Id);
        }

        return ids;
    }

    [Fact]
    public async Task Pages_OfThree_ListEveryLeaseOnceInCreationOrder_EvenWhenOneEndsBetweenPages()
    {
        var created = await CreateAsync(7);
        var listed = new List<string>();
        var token = string.Empty;
        var pages = 0;
        do
        {
            var page = await _leases.ListLeasesAsync(new ListLeasesRequest { PageSize = 3, PageToken = token, IncludeEnded = true });
            listed.AddRange(page.Leases.Select(l => l.Id));
            token = page.NextPageToken;
            if (pages++ == 0)
            {
                // Released after the first page: it stays listed once (include_ended), and nothing shifts.
                await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = created[1] });
            }
        }
        while (token.Length > 0);

        Assert.Equal(3, pages);
        Assert.Equal(created, listed);
        var live = await _leases.ListLeasesAsync(new ListLeasesRequest());
        Assert.Equal(7, live.Leases.Count);
        Assert.Empty(live.NextPageToken);
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("MTp4Onk")]             // "1:x:y"
    [InlineData("Mjo1OnctYWJj")]        // "2:5:w-abc", a version this scheduler does not write
    [InlineData("MTo1OnJtIC1yZiAv")]    // "1:5:rm -rf /", not a lease id
    public async Task PageToken_NotOneTheSchedulerGaveOut_IsRefusedByName(string token)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => _leases.ListLeasesAsync(new ListLeasesRequest { PageToken = token }));

        Assert.Equal(StatusCode.InvalidArgument, refused.Status);
        Assert.Contains("page_token", refused.Message, StringComparison.Ordinal);
        Assert.Contains("without it", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WsList_MoreLeasesThanOnePage_ShowsThemAll()
    {
        var created = await CreateAsync(1003);

        var run = await WsProgram.RunAsync(_scheduler.Address, "alice", null, "list", "--output", "json");

        Assert.True(run.Code == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var listed = json.RootElement.GetProperty("leases").EnumerateArray().Select(l => l.GetProperty("id").GetString()!).ToList();
        Assert.Equal(created, listed);
    }
}
