using System.Security.Cryptography;
using NodeAgent.Scheduler.Security;

namespace NodeAgent.Tests.Security;

public sealed class TokenSecretTests
{
    [Fact]
    public void New_ItsIdIsWhatTheBearerValueNames_AndOnlyItsOwnValueMatchesItsHash()
    {
        using var random = RandomNumberGenerator.Create();
        var (id, secret) = TokenSecret.New(random);
        var (otherId, other) = TokenSecret.New(random);

        Assert.Matches("^t-[0-9a-f]{16}$", id);
        Assert.Equal(TokenSecret.Length, secret.Length);
        Assert.Equal(id, TokenSecret.IdOf(secret));
        Assert.NotEqual(id, otherId);
        Assert.True(TokenSecret.Matches(secret, TokenSecret.Hash(secret)));
        Assert.False(TokenSecret.Matches(other, TokenSecret.Hash(secret)));
        var flipped = secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A');
        Assert.False(TokenSecret.Matches(flipped, TokenSecret.Hash(secret)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Bearer")]
    [InlineData("nat_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // one short
    [InlineData("nat_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // one long
    [InlineData("nat_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // upper-case id
    [InlineData("nat_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\0A")] // NUL
    [InlineData("nat_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;A")] // shell
    [InlineData("xyz_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // prefix
    [InlineData("nat_0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // separator
    [InlineData("nat_../../etc/pass_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // traversal
    public void IdOf_NotShapedLikeAToken_IsNull(string bearer) => Assert.Null(TokenSecret.IdOf(bearer));
}
