using NodeAgent.Metrics;

namespace NodeAgent.Tests.Metrics;

public sealed class TextFormatTests
{
    [Fact]
    public void Render_CounterGaugeHistogram_MatchesGoldenText()
    {
        var registry = new MetricsRegistry();
        registry.CreateGauge("b_temperature_celsius", "A gauge.").Set(-1.5);
        var requests = registry.CreateCounter("a_requests_total", "Requests by code.", "code");
        requests.WithLabels("500").Inc();
        requests.WithLabels("200").Inc(2);
        var latency = registry.CreateHistogram("c_latency_seconds", "A histogram.", [0.1, 1], "route");
        var root = latency.WithLabels("/");
        root.Observe(0.05);
        root.Observe(0.1);
        root.Observe(0.5);
        root.Observe(7);

        var text = registry.Render();

        var expected = """
            # HELP a_requests_total Requests by code.
            # TYPE a_requests_total counter
            a_requests_total{code="200"} 2
            a_requests_total{code="500"} 1
            # HELP b_temperature_celsius A gauge.
            # TYPE b_temperature_celsius gauge
            b_temperature_celsius -1.5
            # HELP c_latency_seconds A histogram.
            # TYPE c_latency_seconds histogram
            c_latency_seconds_bucket{route="/",le="0.1"} 2
            c_latency_seconds_bucket{route="/",le="1"} 3
            c_latency_seconds_bucket{route="/",le="+Inf"} 4
            c_latency_seconds_sum{route="/"} 7.65
            c_latency_seconds_count{route="/"} 4

            """.ReplaceLineEndings("\n");
        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_LabelValuesAndHelp_AreEscaped()
    {
        var registry = new MetricsRegistry();
        registry.CreateGauge("x_value", "Help with \\ and\nnewline \"quoted\".", "name").WithLabels("a\\b\"c\nd").Set(1);

        var text = registry.Render();

        Assert.Contains("# HELP x_value Help with \\\\ and\\nnewline \"quoted\".\n", text, StringComparison.Ordinal);
        Assert.Contains("x_value{name=\"a\\\\b\\\"c\\nd\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Families_AreSortedByNameWithHelpAndTypeOnce()
    {
        var registry = new MetricsRegistry();
        registry.CreateGauge("zz_last", "z").Set(1);
        registry.CreateGauge("aa_first", "a", "k").WithLabels("1").Set(1);
        registry.CreateGauge("aa_first_more", "a2").Set(1);

        var names = registry.Render().Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToList();

        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(names.Distinct(), names);
        Assert.Contains("zz_last", names);
    }

    [Theory]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(1e21, "1E+21")]
    [InlineData(0.1, "0.1")]
    [InlineData(12345678901234, "12345678901234")]
    public void FormatValue_SpecialAndLargeValues_AreWhatPrometheusParses(double value, string expected) =>
        Assert.Equal(expected, TextFormat.FormatValue(value));

    [Theory]
    [InlineData("requests", MetricType.Counter)]
    [InlineData("free_total", MetricType.Gauge)]
    [InlineData("9lives", MetricType.Gauge)]
    [InlineData("has-dash", MetricType.Gauge)]
    [InlineData("rule:name", MetricType.Gauge)]
    [InlineData("latency_seconds_count", MetricType.Histogram)]
    public void Create_InvalidMetricName_IsRefusedAtRegistration(string name, MetricType type)
    {
        var registry = new MetricsRegistry();
        Assert.Throws<ArgumentException>(() => _ = type switch
        {
            MetricType.Counter => (object)registry.CreateCounter(name, "h"),
            MetricType.Gauge => registry.CreateGauge(name, "h"),
            _ => registry.CreateHistogram(name, "h", [1]),
        });
    }

    [Theory]
    [InlineData("__reserved")]
    [InlineData("with-dash")]
    [InlineData("1st")]
    [InlineData("")]
    public void Create_InvalidLabelName_IsRefused(string label) =>
        Assert.Throws<ArgumentException>(() => new MetricsRegistry().CreateGauge("g", "h", label));

    [Fact]
    public void Create_HistogramWithLeLabelOrCollidingName_IsRefused()
    {
        var registry = new MetricsRegistry();
        Assert.Throws<ArgumentException>(() => registry.CreateHistogram("h_seconds", "h", [1], "le"));
        registry.CreateHistogram("d_seconds", "h", [1]);
        Assert.Throws<ArgumentException>(() => registry.CreateGauge("d_seconds_sum", "collides with the histogram's _sum"));
        Assert.Throws<ArgumentException>(() => registry.CreateGauge("d_seconds", "same name"));
        Assert.Throws<ArgumentException>(() => registry.CreateHistogram("e_seconds", "unsorted", [2, 1]));
    }

    [Fact]
    public void WithLabels_WrongNumberOfValues_Throws() =>
        Assert.Throws<ArgumentException>(() => new MetricsRegistry().CreateCounter("c_total", "h", "a", "b").WithLabels("only-one"));

    [Fact]
    public void Counter_NegativeIncrement_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MetricsRegistry().CreateCounter("c_total", "h").Inc(-1));

    [Fact]
    public void WithLabels_BeyondTheSeriesCap_DropsAndCountsTheNewSeries()
    {
        var registry = new MetricsRegistry(maxSeriesPerFamily: 3);
        var gauge = registry.CreateGauge("g_value", "h", "id");
        for (var i = 0; i < 10; i++)
        {
            gauge.WithLabels($"id-{i}").Set(i);
        }

        var text = registry.Render();

        Assert.Equal(3, text.Split('\n').Count(l => l.StartsWith("g_value{", StringComparison.Ordinal)));
        Assert.Contains("nodeagent_metrics_series_dropped_total{family=\"g_value\"} 7\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Collector_SamplesAndDuplicates_AreRenderedOnceAndDuplicatesCounted()
    {
        var registry = new MetricsRegistry();
        var up = registry.CreateCollected(MetricType.Gauge, "w_up", "h", "workspace");
        registry.AddCollector("test", scrape =>
        {
            scrape.Add(up, 1, "b");
            scrape.Add(up, 0, "a");
            scrape.Add(up, 5, "b");
        });

        var text = registry.Render();

        Assert.Contains("w_up{workspace=\"a\"} 0\nw_up{workspace=\"b\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("nodeagent_metrics_series_dropped_total{family=\"w_up\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Collector_Throwing_LeavesOutItsSamplesAndCountsTheError()
    {
        var registry = new MetricsRegistry();
        var up = registry.CreateCollected(MetricType.Gauge, "w_up", "h", "workspace");
        registry.AddCollector("broken", scrape =>
        {
            scrape.Add(up, 1, "half-done");
            throw new InvalidOperationException("libvirt is gone");
        });
        registry.CreateGauge("other_value", "still there").Set(3);

        var text = registry.Render();

        Assert.DoesNotContain("half-done", text, StringComparison.Ordinal);
        Assert.Contains("other_value 3\n", text, StringComparison.Ordinal);
        Assert.Contains("nodeagent_metrics_collector_errors_total{collector=\"broken\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Counter_IncrementedFromManyThreads_LosesNoIncrement()
    {
        var counter = new MetricsRegistry().CreateCounter("c_total", "h", "k");
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                counter.WithLabels("x").Inc();
            }
        })));

        Assert.Equal(80_000, counter.WithLabels("x").Value);
    }

    [Fact]
    public async Task Render_OfEveryKind_PassesPromtool()
    {
        var registry = new MetricsRegistry();
        registry.CreateCounter("t_requests_total", "Requests.", "code").WithLabels("a\"b\\c\nd").Inc();
        registry.CreateHistogram("t_latency_seconds", "Latency.", Histogram.SecondsBuckets).Observe(0.3);
        var collected = registry.CreateCollected(MetricType.Counter, "t_bytes_total", "Bytes.", "workspace");
        registry.AddCollector("c", s => s.Add(collected, 1e12, "w1"));

        var (code, output) = await Promtool.CheckMetricsAsync(registry.Render());

        Assert.True(code == 0, output);
    }
}
