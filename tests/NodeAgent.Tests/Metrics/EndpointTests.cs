using System.Net;
using NodeAgent.Contract.V1;
using NodeAgent.Metrics;
using NodeAgent.Tests.Agent;

namespace NodeAgent.Tests.Metrics;

/// <summary>Both daemons' real /metrics, with two workspaces on libvirt's test driver, checked by promtool.</summary>
[Collection(TestDriver.Collection)]
public sealed class EndpointTests : IAsyncLifetime
{
    private readonly HttpClient _http = new();
    private MetricsCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await MetricsCluster.StartAsync(workspaces: 2);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _cluster.DisposeAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task AgentMetrics_WithTwoWorkspaces_PassPromtoolAndHaveEachWorkspacesSeries()
    {
        using var response = await _http.GetAsync(_cluster.AgentMetrics);
        var body = await response.Content.ReadAsStringAsync();

        var (code, output) = await Promtool.CheckMetricsAsync(body);
        Assert.True(code == 0, output);
        Assert.Equal(TextFormat.ContentType, response.Content.Headers.ContentType?.ToString());
        foreach (var lease in _cluster.Workspaces)
        {
            var labels = $"{{workspace=\"{lease.Id}\",lease=\"{lease.Id}\",project=\"{lease.Owner}\"}}";
            Assert.Contains($"nodeagent_workspace_up{labels} 1\n", body, StringComparison.Ordinal);
            Assert.Matches($"nodeagent_workspace_cpu_seconds_total{Escape(labels)} [0-9.e+E]+\n", body);
            Assert.Contains($"nodeagent_workspace_memory_bytes{labels} {64 << 20}\n", body, StringComparison.Ordinal);
        }

        Assert.Contains("nodeagent_host_running_workspaces 2\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_host_allocated_vcpus 2\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_connected 1\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_libvirt_up 1\n", body, StringComparison.Ordinal);
        Assert.Matches("nodeagent_reconcile_duration_seconds_count\\{kind=\"workspace\"\\} [1-9]", body);
        Assert.Contains("nodeagent_build_info{version=\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("workspace=\"test\"", body, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task SchedulerMetrics_AfterLeasesAndARefusal_PassPromtoolAndCountThem()
    {
        var refused = await new LeaseServiceClient(_cluster.Channel).CreateLeaseAsync(new CreateLeaseRequest
        {
            Image = "tiny",
            Resources = new Resources { Vcpus = 1, MemoryBytes = 4UL << 40 },
            Duration = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });

        var body = await _http.GetStringAsync(_cluster.SchedulerMetrics);

        var (code, output) = await Promtool.CheckMetricsAsync(body);
        Assert.True(code == 0, output);
        Assert.Equal(LeaseState.Failed, refused.State);
        Assert.Contains("nodeagent_scheduler_placements_total{outcome=\"placed\"} 2\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_placements_total{outcome=\"refused\"} 1\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_placement_duration_seconds_count 3\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_leases{state=\"running\"} 2\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_hosts{health=\"up\"} 1\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_queue_length 0\n", body, StringComparison.Ordinal);
        Assert.Contains("nodeagent_scheduler_api_requests_total{method=\"/nodeagent.v1.LeaseService/CreateLease\",code=\"OK\"} 3\n", body, StringComparison.Ordinal);
        Assert.Matches("nodeagent_scheduler_api_requests_total\\{method=\"/nodeagent.v1.AgentService/Heartbeat\",code=\"OK\"\\} [1-9]", body);
        Assert.Contains("nodeagent_scheduler_api_request_duration_seconds_bucket{method=\"/nodeagent.v1.LeaseService/CreateLease\",le=\"+Inf\"} 3\n", body, StringComparison.Ordinal);

        // Every write committed is counted, in as many transactions as the commit duration counts: the three leases at least.
        var commits = Sample(body, "nodeagent_scheduler_store_commit_writes_count");
        Assert.True(Sample(body, "nodeagent_scheduler_store_commit_writes_sum") >= 3, body);
        Assert.InRange(commits, 1, Sample(body, "nodeagent_scheduler_store_commit_writes_sum"));
        Assert.Equal(commits, Sample(body, "nodeagent_scheduler_store_commit_duration_seconds_count"));
        Assert.True(Sample(body, "nodeagent_scheduler_store_commit_duration_seconds_sum") > 0, body);
    }

    /// <summary>The value of the unlabelled sample <paramref name="name"/> in an exposition.</summary>
    private static double Sample(string body, string name) =>
        double.Parse(System.Text.RegularExpressions.Regex.Match(body, $"^{name} (\\S+)$", System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);

    [Fact(Timeout = 60_000)]
    public async Task SchedulerMetrics_OnTheGrpcListenerOrWithPost_AreNotServed()
    {
        using var post = await _http.PostAsync(_cluster.SchedulerMetrics, new StringContent(string.Empty));
        using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, _cluster.SchedulerMetrics));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.True(head.Content.Headers.ContentLength > 0);
    }

    private static string Escape(string text) => System.Text.RegularExpressions.Regex.Escape(text);
}
