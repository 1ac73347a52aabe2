using NodeAgent.Agent;
using NodeAgent.Agent.HostFacts;

namespace NodeAgent.Tests.Agent;

/// <summary>What a host offers to workspaces: (raw − reserved) × overcommit, rounded down, and how bad settings are reported.</summary>
public sealed class CapacityPolicyTests
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;

    private static readonly HostSize Host = new(8, 16 * GiB);

    [Theory]
    [InlineData(0, 1.0, 8)]
    [InlineData(0, 4.0, 32)]
    [InlineData(2, 4.0, 24)]
    [InlineData(1, 1.5, 10)] // 7 × 1.5 = 10.5
    [InlineData(7, 0.5, 0)] // 1 × 0.5 = 0.5
    [InlineData(0, 64.0, 512)]
    public void Offer_Vcpus_AreHostLessReservedTimesRatioRoundedDown(int reserved, double ratio, int expected)
    {
        var policy = CapacityPolicy.Default with { ReservedVcpus = reserved, CpuOvercommit = ratio };

        Assert.Equal(expected, policy.Offer(Host).Vcpus);
    }

    [Fact]
    public void Offer_Memory_IsHostLessReservedTimesRatioRoundedDownToTheByte()
    {
        var policy = CapacityPolicy.Default with { ReservedMemoryBytes = 2 * GiB, MemoryOvercommit = 1.5 };

        var offer = policy.Offer(new HostSize(2, (16 * GiB) + 1));

        // (16 GiB + 1 − 2 GiB) × 1.5 = 21 GiB + 1.5 bytes.
        Assert.Equal((21 * GiB) + 1, offer.MemoryBytes);
    }

    [Fact]
    public void Offer_RatioThatIsNotExactInBinary_DoesNotLoseAUnitToRounding()
    {
        // In double arithmetic 100 × 0.29 is 28.999999999999996, which would round down to 28.
        var policy = CapacityPolicy.Default with { CpuOvercommit = 0.29 };

        Assert.Equal(29, policy.Offer(new HostSize(100, 4 * GiB)).Vcpus);
    }

    [Fact]
    public void Offer_Defaults_FourVcpusPerCpuAndAllMemoryBut512MiB()
    {
        var offer = new AgentOptions().Capacity.Offer(Host);

        Assert.Equal(new HostSize(32, (16 * GiB) - (512 * MiB)), offer);
    }

    [Theory]
    [InlineData(64 * GiB, 512 * MiB)]
    [InlineData(2 * GiB, 512 * MiB)]
    [InlineData(1 * GiB, 256 * MiB)]
    [InlineData(256 * MiB, 64 * MiB)]
    public void DefaultReservedMemory_Is512MiBButNeverMoreThanAQuarterOfTheHost(long host, long expected) =>
        Assert.Equal(expected, CapacityPolicy.DefaultReservedMemory(host));

    [Fact]
    public void Offer_ReservationLargerThanTheHost_OffersNothingRatherThanANegativeAmount()
    {
        var policy = CapacityPolicy.Default with { ReservedVcpus = 10, ReservedMemoryBytes = 20 * GiB };

        Assert.Equal(new HostSize(0, 0), policy.Offer(Host));
    }

    [Fact]
    public void Validate_Defaults_NoProblems() =>
        Assert.Empty(new AgentOptions().Validate(Host));

    [Fact]
    public void Validate_EveryBadSetting_AllReportedAtOnceEachNamingItsOptionAndTheFix()
    {
        var options = new AgentOptions
        {
            ReservedVcpus = 8,
            ReservedMemoryBytes = 16 * GiB,
            CpuOvercommit = 0,
            MemoryOvercommit = 65,
        };

        var problems = options.Validate(Host);

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("cpu-overcommit: 0 ", StringComparison.Ordinal) && p.Contains("above 0 and at most 64", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("memory-overcommit: 65 ", StringComparison.Ordinal) && p.Contains("at most 64", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("reserved-vcpus: 8 ", StringComparison.Ordinal) && p.Contains("reserve at most 7", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("reserved-memory: 16 GiB ", StringComparison.Ordinal) && p.Contains("reserve less, e.g. 512 MiB", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-1.0)]
    public void Validate_RatioNotANumberInRange_IsAProblem(double ratio)
    {
        var problems = new AgentOptions { CpuOvercommit = ratio, MemoryOvercommit = ratio }.Validate(Host);

        Assert.Contains(problems, p => p.StartsWith("cpu-overcommit:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("memory-overcommit:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RatioThatRoundsTheOfferToNoVcpus_SaysWhichOptionsToChange()
    {
        var problems = new AgentOptions { ReservedVcpus = 7, CpuOvercommit = 0.5 }.Validate(Host);

        var problem = Assert.Single(problems);
        Assert.Contains("rounds down to no vCPUs", problem, StringComparison.Ordinal);
        Assert.Contains("raise --cpu-overcommit or lower --reserved-vcpus", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeReservation_IsAProblemEvenWithoutTheHostSize()
    {
        var problems = new AgentOptions { ReservedVcpus = -1, ReservedMemoryBytes = -5 }.Validate();

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("reserved-vcpus: -1 is negative", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("reserved-memory: -5 bytes is negative", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_WithoutTheHostSize_ReservationIsNotCheckedAgainstIt() =>
        Assert.Empty(new AgentOptions { ReservedVcpus = 1000, ReservedMemoryBytes = 1L << 50 }.Validate());

    [Theory]
    [InlineData("512M", 512 * MiB)]
    [InlineData("512MiB", 512 * MiB)]
    [InlineData("2G", 2 * GiB)]
    [InlineData("1.5g", (3 * GiB) / 2)]
    [InlineData(" 64 KiB ", 64 * 1024)]
    [InlineData("0", 0)]
    [InlineData("4096", 4096)]
    public void ParseSize_AsPeopleWriteIt(string text, long expected) =>
        Assert.Equal(expected, CapacityPolicy.ParseSize(text, "--reserved-memory"));

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("-1G")]
    [InlineData("12Q")]
    [InlineData("1.2.3M")]
    [InlineData("99999999T")]
    public void ParseSize_NotASize_NamesTheOptionAndAnExample(string text)
    {
        var error = Assert.Throws<FormatException>(() => CapacityPolicy.ParseSize(text, "--reserved-memory"));

        Assert.Contains("--reserved-memory", error.Message, StringComparison.Ordinal);
        Assert.Contains("512M", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_SaysWhatIsOfferedAndWhy()
    {
        var text = CapacityPolicy.Default.Describe(Host);

        Assert.Equal("offering 32 vCPUs and 15.5 GiB to workspaces: host 8 CPUs and 16 GiB, reserved 0 CPUs and 512 MiB, overcommit CPU ×4, memory ×1", text);
    }
}
