using NodeAgent.Agent;

namespace NodeAgent.Tests.Metering;

/// <summary>--usage-period: a minute by default, refused outside 1 second–1 hour.</summary>
public sealed class UsagePeriodOptionTests
{
    [Fact]
    public void Default_IsOneMinute_AndValid()
    {
        var options = new AgentOptions();

        Assert.Equal(TimeSpan.FromMinutes(1), options.UsagePeriod);
        Assert.DoesNotContain(options.Validate(), p => p.StartsWith("usage-period", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(3601)]
    public void OutsideOneSecondToAnHour_IsRefusedSayingTheDefault(double seconds)
    {
        var problems = new AgentOptions { UsagePeriod = TimeSpan.FromSeconds(seconds) }.Validate();

        Assert.Contains(problems, p => p.StartsWith("usage-period", StringComparison.Ordinal) && p.Contains("00:01:00", StringComparison.Ordinal));
    }
}
