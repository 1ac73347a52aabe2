using System.Security.Cryptography;
using System.Text;

namespace NodeAgent.Scheduler.Security;

/// <summary>
/// The bearer value of a token: <c>nat_</c>, its id's 16 hex digits, <c>_</c>, and 32 random bytes in base64url
/// (43 characters). The id is public (lists, logs, revocation); the scheduler stores only the SHA-256 of the whole
/// value, which it compares in constant time. The secret is random, not a password, so one SHA-256 is enough.
/// </summary>
public static class TokenSecret
{
    private const string Prefix = "nat_";
    private const int IdHexDigits = 16;
    private const int SecretChars = 43;

    /// <summary>The length of every bearer value this scheduler makes.</summary>
    public const int Length = 4 + IdHexDigits + 1 + SecretChars;

    /// <summary>A new token id ("t-" and 16 hex digits) and its bearer value.</summary>
    public static (string Id, string Secret) New(RandomNumberGenerator random)
    {
        Span<byte> bytes = stackalloc byte[8 + 32];
        random.GetBytes(bytes);
        var hex = Convert.ToHexStringLower(bytes[..8]);
        var secret = Convert.ToBase64String(bytes[8..]).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return ("t-" + hex, Prefix + hex + "_" + secret);
    }

    /// <summary>The token id a bearer value names, or null when it is not shaped like one (checked before any lookup).</summary>
    public static string? IdOf(string bearer)
    {
        if (bearer.Length != Length || !bearer.StartsWith(Prefix, StringComparison.Ordinal) || bearer[Prefix.Length + IdHexDigits] != '_')
        {
            return null;
        }

        var hex = bearer.AsSpan(Prefix.Length, IdHexDigits);
        foreach (var c in hex)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return null;
            }
        }

        foreach (var c in bearer.AsSpan(Prefix.Length + IdHexDigits + 1))
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '-' or '_'))
            {
                return null;
            }
        }

        return "t-" + hex.ToString();
    }

    public static byte[] Hash(string bearer) => SHA256.HashData(Encoding.ASCII.GetBytes(bearer));

    public static bool Matches(string bearer, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(Hash(bearer), storedHash);
}
