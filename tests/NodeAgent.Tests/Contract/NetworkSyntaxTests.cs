using NodeAgent.Contract;

namespace NodeAgent.Tests.Contract;

/// <summary>Network names, MACs and IPv4 addresses as the contract allows them.</summary>
public sealed class NetworkSyntaxTests
{
    [Theory]
    [InlineData("default")]
    [InlineData("lab-2")]
    [InlineData("a")]
    [InlineData("abcdefghijklmno")]
    public void IsValidName_DnsLabelLike_Accepted(string name) => Assert.True(NetworkSyntax.IsValidName(name, out _));

    [Theory]
    [InlineData("")]
    [InlineData("Default")]
    [InlineData("2lab")]
    [InlineData("-lab")]
    [InlineData("lab_2")]
    [InlineData("lab.2")]
    [InlineData("abcdefghijklmnop")]
    [InlineData("br0;flush ruleset")]
    [InlineData("lab\n")]
    [InlineData("lab\0")]
    [InlineData("../etc")]
    [InlineData("<bridge/>")]
    public void IsValidName_Other_Refused(string name)
    {
        var valid = NetworkSyntax.IsValidName(name, out var problem);

        Assert.False(valid);
        Assert.DoesNotContain('\n', problem);
        Assert.DoesNotContain('\0', problem);
    }

    [Theory]
    [InlineData("52:54:00:12:34:56", true)]
    [InlineData("52:54:00:ab:cd:ef", true)]
    [InlineData("52:54:00:AB:CD:EF", false)]
    [InlineData("53:54:00:12:34:56", false)]
    [InlineData("50:54:00:12:34:56", false)]
    [InlineData("52-54-00-12-34-56", false)]
    [InlineData("52:54:00:12:34:5", false)]
    [InlineData("52:54:00:12:34:56;", false)]
    public void IsValidMac_LowerCaseLocallyAdministeredUnicastOnly(string mac, bool expected) => Assert.Equal(expected, NetworkSyntax.IsValidMac(mac, out _));

    [Theory]
    [InlineData("10.77.0.1", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("10.77.0", false)]
    [InlineData("10", false)]
    [InlineData("010.77.0.1", false)]
    [InlineData("10.77.0.256", false)]
    [InlineData("10.77.0.1 ", false)]
    [InlineData("::1", false)]
    [InlineData("10.77.0.1/24", false)]
    public void TryParseIPv4_DottedQuadOnly(string text, bool expected) => Assert.Equal(expected, NetworkSyntax.TryParseIPv4(text, out _));
}
