using System.Net;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Networks;

namespace NodeAgent.Tests.Scheduler;

/// <summary>The scheduler's --network values: read into typed values, then checked all at once.</summary>
public sealed class NetworkOptionsTests
{
    private static SchedulerOptions With(params string[] networks) => new() { Networks = networks.Select(NetworkDefinition.Parse).ToList() };

    [Fact]
    public void Parse_FullSyntax_TypedValues()
    {
        var network = NetworkDefinition.Parse(NetworkDefinition.Example);

        Assert.Equal("default", network.Name);
        Assert.Equal(IPNetwork.Parse("10.77.0.0/24"), network.Cidr);
        Assert.Equal(IPAddress.Parse("10.77.0.1"), network.Gateway);
        Assert.Equal([IPAddress.Parse("10.77.0.1"), IPAddress.Parse("9.9.9.9")], network.DnsServers);
        Assert.Equal(
            [new AddressRange(IPAddress.Parse("10.77.0.2"), IPAddress.Parse("10.77.0.9")), new AddressRange(IPAddress.Parse("10.77.0.250"), IPAddress.Parse("10.77.0.250"))],
            network.Reserved);
        Assert.Equal(NetworkDefinition.Example, network.ToString());
    }

    [Fact]
    public void Parse_OnlyCidr_NoGatewayNoDnsNothingReserved()
    {
        var network = NetworkDefinition.Parse("lab=192.168.40.0/26");

        Assert.Null(network.Gateway);
        Assert.Empty(network.DnsServers);
        Assert.Empty(network.Reserved);
    }

    [Theory]
    [InlineData("10.77.0.0/24", "must start with the network's name")]
    [InlineData("default=10.77.0.5/24", "the network is 10.77.0.0/24")]
    [InlineData("default=10.77.0.0", "CIDR notation")]
    [InlineData("default=10.77.0.0/33", "/33")]
    [InlineData("default=10.77.0.0/24,gateway=10.77.0", "gateway '10.77.0'")]
    [InlineData("default=10.77.0.0/24,dns=10.77.0.1,dns=9.9.9.9", "given twice")]
    [InlineData("default=10.77.0.0/24,mtu=9000", "'mtu=9000'")]
    [InlineData("default=10.77.0.0/24,reserve=", "no value")]
    [InlineData("default=10.77.0.0/24,gateway=10.77.0.1;reboot", "gateway")]
    public void Parse_Malformed_FormatExceptionSayingWhatAndShowingTheSyntax(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => NetworkDefinition.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(NetworkDefinition.Syntax, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExampleNetwork_NoProblems() => Assert.Empty(With(NetworkDefinition.Example).Validate());

    [Fact]
    public void Validate_NoNetworks_NoProblemsAndNoDefault()
    {
        var options = new SchedulerOptions();

        Assert.Empty(options.Validate());
        Assert.Null(options.DefaultNetworkDefinition);
    }

    [Fact]
    public void Validate_ManyMistakes_EveryOneReportedAtOnce()
    {
        var options = With(
            "Lab=10.77.0.0/24,gateway=10.78.0.1,dns=127.0.0.1+10.77.0.255,reserve=10.77.0.9-10.77.0.2+10.99.0.1",
            "v6=fd00::/64",
            "tiny=10.80.0.0/31",
            "big=10.0.0.0/8",
            "over=10.77.0.128/25",
            "over=10.81.0.0/24") with { DefaultNetwork = "nope", AddressQuarantine = TimeSpan.FromSeconds(-1) };

        var problems = options.Validate();

        string[] expected =
        [
            "network Lab: the name 'Lab' has 'L' at position 0",
            "network Lab: gateway 10.78.0.1 must be an address inside 10.77.0.0/24",
            "network Lab: DNS server 127.0.0.1 must be a unicast IPv4 address",
            "network Lab: DNS server 10.77.0.255 is the network or broadcast address",
            "network Lab: reserved range 10.77.0.9-10.77.0.2 ends before it starts",
            "network Lab: reserved range 10.99.0.1 must lie inside 10.77.0.0/24",
            "network v6: fd00::/64 is not IPv4",
            "network tiny: 10.80.0.0/31 must be between /16 and /30",
            "network big: 10.0.0.0/8 must be between /16 and /30",
            "network over: configured 2 times",
            "network over: 10.77.0.128/25 overlaps network Lab (10.77.0.0/24)",
            "default-network: 'nope' is not configured",
            "address-quarantine:",
        ];
        foreach (var text in expected)
        {
            Assert.Contains(problems, p => p.StartsWith(text, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Validate_NameTooLongForAnInterface_Refused()
    {
        var problems = With("abcdefghijklmnop=10.77.0.0/24").Validate();

        Assert.Contains(problems, p => p.Contains("at most 15", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_EveryAddressReserved_SaysNoneIsLeft()
    {
        var problems = With("full=10.77.0.0/29,gateway=10.77.0.1,reserve=10.77.0.2-10.77.0.6").Validate();

        Assert.Equal(["network full: no address is left to hand out once the gateway, DNS servers and reserved ranges are set aside"], problems);
    }

    [Fact]
    public void Validate_TooManyDnsServers_Refused()
    {
        var problems = With("lab=10.77.0.0/24,dns=1.1.1.1+8.8.8.8+9.9.9.9+10.77.0.53").Validate();

        Assert.Contains(problems, p => p.Contains("4 DNS servers", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DefaultNetworkWithoutNetworks_Refused()
    {
        var problems = new SchedulerOptions { DefaultNetwork = "lab" }.Validate();

        Assert.Equal(["default-network: 'lab' is given but no --network is configured"], problems);
    }

    [Fact]
    public void DefaultNetwork_NotGiven_TheFirstConfigured()
    {
        var options = With("lab=10.77.0.0/24", "dmz=10.78.0.0/24");

        Assert.Equal("lab", options.DefaultNetworkDefinition?.Name);
        Assert.Equal("dmz", (options with { DefaultNetwork = "dmz" }).DefaultNetworkDefinition?.Name);
    }
}

/// <summary>Which addresses a pool hands out, in which order, pure arithmetic.</summary>
public sealed class AddressPoolTests
{
    private static HashSet<uint> Taken(params string[] addresses) => addresses.Select(a => Ipv4.ToUInt32(IPAddress.Parse(a))).ToHashSet();

    [Fact]
    public void Size_ExampleNetwork_AllButNetworkBroadcastGatewayDnsAndReserved()
    {
        // 254 host addresses, less the gateway (also a DNS server), .2-.9 and .250.
        Assert.Equal(244, new AddressPool(NetworkDefinition.Parse(NetworkDefinition.Example)).Size);
        Assert.Equal(245, new AddressPool(NetworkDefinition.Parse("default=10.77.0.0/24,gateway=10.77.0.1,reserve=10.77.0.2-10.77.0.9")).Size);
    }

    [Fact]
    public void LowestFree_Empty_FirstAddressAfterTheExclusions()
    {
        var pool = new AddressPool(NetworkDefinition.Parse(NetworkDefinition.Example));

        Assert.Equal(IPAddress.Parse("10.77.0.10"), pool.LowestFree(Taken()));
    }

    [Fact]
    public void LowestFree_SomeTaken_LowestGapAndReservedRangesSkipped()
    {
        var pool = new AddressPool(NetworkDefinition.Parse("lab=10.77.0.0/24,gateway=10.77.0.1,dns=10.77.0.12,reserve=10.77.0.3-10.77.0.9+10.77.0.11"));

        Assert.Equal(IPAddress.Parse("10.77.0.2"), pool.LowestFree(Taken()));
        Assert.Equal(IPAddress.Parse("10.77.0.10"), pool.LowestFree(Taken("10.77.0.2")));
        Assert.Equal(IPAddress.Parse("10.77.0.13"), pool.LowestFree(Taken("10.77.0.2", "10.77.0.10")));
        Assert.Equal(IPAddress.Parse("10.77.0.10"), pool.LowestFree(Taken("10.77.0.2", "10.77.0.13")));
    }

    [Fact]
    public void LowestFree_NetworkWithoutGateway_StartsAtTheFirstHostAddress()
    {
        var pool = new AddressPool(NetworkDefinition.Parse("flat=192.168.40.0/30"));

        Assert.Equal(2, pool.Size);
        Assert.Equal(IPAddress.Parse("192.168.40.1"), pool.LowestFree(Taken()));
        Assert.Equal(IPAddress.Parse("192.168.40.2"), pool.LowestFree(Taken("192.168.40.1")));
        Assert.Null(pool.LowestFree(Taken("192.168.40.1", "192.168.40.2")));
    }

    [Fact]
    public void LowestFree_ReservedUpToTheLastAddress_NullWhenTheRestIsTaken()
    {
        var pool = new AddressPool(NetworkDefinition.Parse("lab=10.77.0.0/29,gateway=10.77.0.1,reserve=10.77.0.4-10.77.0.6"));

        Assert.Equal(2, pool.Size);
        Assert.Null(pool.LowestFree(Taken("10.77.0.2", "10.77.0.3")));
    }

    [Fact]
    public void IsAssignable_NetworkBroadcastGatewayAndReserved_False()
    {
        var pool = new AddressPool(NetworkDefinition.Parse(NetworkDefinition.Example));

        Assert.False(pool.IsAssignable(IPAddress.Parse("10.77.0.0")));
        Assert.False(pool.IsAssignable(IPAddress.Parse("10.77.0.255")));
        Assert.False(pool.IsAssignable(IPAddress.Parse("10.77.0.1")));
        Assert.False(pool.IsAssignable(IPAddress.Parse("10.77.0.5")));
        Assert.False(pool.IsAssignable(IPAddress.Parse("10.77.0.250")));
        Assert.False(pool.IsAssignable(IPAddress.Parse("10.78.0.10")));
        Assert.True(pool.IsAssignable(IPAddress.Parse("10.77.0.10")));
    }
}
