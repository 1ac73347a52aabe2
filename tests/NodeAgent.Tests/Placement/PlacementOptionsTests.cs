using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Tests.Placement;

/// <summary>The operator's placement settings: the weights string, the strategy, and validation that names every problem.</summary>
public sealed class PlacementOptionsTests
{
    private const string KnownNames = "measured-load, image-cached, pack, spread, group-spread";

    [Fact]
    public void ParseWeights_DefaultString_ReadsEachRanker()
    {
        var weights = PlacementOptions.ParseWeights("measured-load=0.6,image-cached=0.2,spread=0.1,group-spread=0.1");

        Assert.Equal(new Dictionary<string, double>
        {
            ["measured-load"] = 0.6,
            ["image-cached"] = 0.2,
            ["spread"] = 0.1,
            ["group-spread"] = 0.1,
        }, weights);
    }

    [Fact]
    public void ParseWeights_SpacesExponentsZeroAndTrailingComma_Accepted()
    {
        var weights = PlacementOptions.ParseWeights(" pack = 2 , measured-load=1e-1, image-cached=0,");

        Assert.Equal(2, weights["pack"]);
        Assert.Equal(0.1, weights["measured-load"]);
        Assert.Equal(0, weights["image-cached"]);
        Assert.Equal(3, weights.Count);
    }

    [Theory]
    [InlineData("measured-lod=0.6", "'measured-lod=0.6' names no ranker")]
    [InlineData("spread=-1", "'spread=-1': the weight must not be negative")]
    [InlineData("spread=abc", "'spread=abc': 'abc' is not a number")]
    [InlineData("spread=0,5", "'5' is not name=weight")]
    [InlineData("spread=NaN", "'spread=NaN': the weight must be a finite number")]
    [InlineData("spread=Infinity", "'spread=Infinity': the weight must be a finite number")]
    [InlineData("spread", "'spread' is not name=weight")]
    [InlineData("spread=1,spread=2", "'spread=2': spread is given twice")]
    [InlineData("pack=1,spread=1", "'spread=1': pack and spread are two names of one ranker")]
    [InlineData("spread=0,measured-load=0", "every weight is 0")]
    [InlineData("", "no weight is given")]
    [InlineData(" , ", "no weight is given")]
    public void ParseWeights_BadEntry_MessageNamesItAndTheKnownRankers(string text, string problem)
    {
        var error = Assert.Throws<FormatException>(() => PlacementOptions.ParseWeights(text));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Contains(KnownNames, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseWeights_SeveralBadEntries_AllNamedAtOnce()
    {
        var error = Assert.Throws<FormatException>(() => PlacementOptions.ParseWeights("cpu=1,spread=-0.5,image-cached=x,measured-load=0.5"));

        Assert.Contains("'cpu=1' names no ranker", error.Message, StringComparison.Ordinal);
        Assert.Contains("'spread=-0.5': the weight must not be negative", error.Message, StringComparison.Ordinal);
        Assert.Contains("'image-cached=x': 'x' is not a number", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'measured-load=0.5':", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'measured-load=0.5' names", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("every weight is 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseWeights_ControlCharacters_NotEchoedRaw()
    {
        var error = Assert.Throws<FormatException>(() => PlacementOptions.ParseWeights("spr\u0001ead=1"));

        Assert.DoesNotContain("\u0001", error.Message, StringComparison.Ordinal);
        Assert.Contains("'spr\\u0001ead=1' names no ranker", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pack", PlacementStrategy.Pack)]
    [InlineData(" Spread ", PlacementStrategy.Spread)]
    [InlineData("PACK", PlacementStrategy.Pack)]
    public void ParseStrategy_PackOrSpread_Read(string text, PlacementStrategy strategy)
    {
        Assert.Equal(strategy, PlacementOptions.ParseStrategy(text));
    }

    [Fact]
    public void ParseStrategy_Other_MessageSaysWhatIsAllowed()
    {
        var error = Assert.Throws<FormatException>(() => PlacementOptions.ParseStrategy("binpack"));

        Assert.Contains("'binpack' is neither pack nor spread", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FormatWeights_ParsedWeights_WrittenInRankerOrderAndReadBackTheSame()
    {
        var weights = PlacementOptions.ParseWeights("group-spread=0.1,measured-load=0.6,pack=0.25");

        var text = PlacementOptions.FormatWeights(weights);

        Assert.Equal("measured-load=0.6,pack=0.25,group-spread=0.1", text);
        Assert.Equal(weights, PlacementOptions.ParseWeights(text));
    }

    [Fact]
    public void Validate_Defaults_NoProblems()
    {
        Assert.Empty(PlacementOptions.Default.Validate());
        Assert.Equal(PlacementStrategy.Spread, PlacementOptions.Default.Strategy);
        Assert.Equal(64, PlacementOptions.Default.SampleSize);
    }

    [Fact]
    public void Validate_EveryProblemAtOnce()
    {
        var options = new PlacementOptions
        {
            SampleSize = 0,
            Weights = new Dictionary<string, double> { ["cpu"] = 1, ["spread"] = -1 },
        };

        var problems = options.Validate();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("'cpu' names no ranker", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("must not be negative", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("sample size 0: it must be at least 1", StringComparison.Ordinal));
    }

    [Fact]
    public void FromOptions_Invalid_RefusedWithTheProblems()
    {
        var error = Assert.Throws<ArgumentException>(() => PlacementPipeline.FromOptions(new PlacementOptions { SampleSize = -3 }));

        Assert.Contains("sample size -3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromOptions_Weights_OneRankerPerWeightAboveZeroAndTheStrategysAllocationRanker()
    {
        var options = new PlacementOptions
        {
            Strategy = PlacementStrategy.Pack,
            Weights = PlacementOptions.ParseWeights("measured-load=0.5,spread=0.5,image-cached=0"),
            SampleSize = 10,
            Seed = 1234,
        };

        var pipeline = PlacementPipeline.FromOptions(options);

        Assert.Equal(["measured-load", "pack"], pipeline.Rankers.Select(r => r.Ranker.Name));
        Assert.Equal([0.5, 0.5], pipeline.Rankers.Select(r => r.Weight));
        Assert.Equal(1234, pipeline.Seed);
        Assert.Equal(10, pipeline.SampleSize);
    }
}
