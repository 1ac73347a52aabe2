using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using NodeAgent.Tests.Agent;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metrics;

/// <summary>
/// A real Prometheus server (Debian's package, from tests/setup/install-deps.sh), started by the test on loopback with
/// its own configuration and data directory, scrapes the agent and the scheduler every second; its query API must
/// then return a workspace's CPU seconds and a scheduler series.
/// </summary>
[Collection(TestDriver.Collection)]
public sealed class PrometheusScrapeTests
{
    [Fact(Timeout = 120_000)]
    public async Task Prometheus_ScrapingBothDaemons_ReturnsWorkspaceCpuSecondsAndSchedulerSeries()
    {
        await using var cluster = await MetricsCluster.StartAsync(workspaces: 1);
        using var directory = new TempDirectory();
        var port = FreePort();
        var config = Path.Combine(directory.Path, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: nodeagent
                static_configs: [{"{"}targets: ['{cluster.AgentMetrics.Authority}']{"}"}]
              - job_name: nodeagent-scheduler
                static_configs: [{"{"}targets: ['{cluster.SchedulerMetrics.Authority}']{"}"}]
            """);
        await using var prometheus = ChildProcess.Start("prometheus",
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory.Path, "data")}", $"--web.listen-address=127.0.0.1:{port}"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var workspace = cluster.Workspaces[0].Id;

        var cpu = await QueryUntilFoundAsync(http, prometheus, $"nodeagent_workspace_cpu_seconds_total{{workspace=\"{workspace}\"}}");
        var placed = await QueryUntilFoundAsync(http, prometheus, "nodeagent_scheduler_placements_total{outcome=\"placed\"}");
        var up = await QueryUntilFoundAsync(http, prometheus, "min(up)");

        Assert.Equal("nodeagent", cpu.GetProperty("metric").GetProperty("job").GetString());
        Assert.Equal(cluster.Workspaces[0].Owner, cpu.GetProperty("metric").GetProperty("project").GetString());
        Assert.True(double.Parse(cpu.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("1", placed.GetProperty("value")[1].GetString());
        Assert.Equal("1", up.GetProperty("value")[1].GetString());
    }

    /// <summary>Asks the query API until the query has a result (the first scrapes take a second or two): its first series.</summary>
    private static async Task<JsonElement> QueryUntilFoundAsync(HttpClient http, ChildProcess prometheus, string query)
    {
        string last = "(no answer)";
        for (var attempt = 0; attempt < 300; attempt++)
        {
            Assert.False(prometheus.HasExited, $"prometheus exited: {prometheus.Output}");
            try
            {
                last = await http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
                using var document = JsonDocument.Parse(last);
                var result = document.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    return result[0].Clone();
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"Prometheus never returned {query}; last answer: {last}; its log:\n{prometheus.Output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
