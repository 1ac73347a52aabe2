using System.Text;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// Page tokens of the List calls: where the next page starts, opaque to clients (base64url of "1:" and the
/// position's text), so the form can change without breaking a client that only hands tokens back.
/// </summary>
public static class PageTokens
{
    private const string Version = "1:";

    /// <summary>What a client is told when it hands back a token this scheduler did not give out.</summary>
    public const string Problem = "is not a page token this scheduler gave out; list again without it to start from the first page";

    public static string Encode(string position) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(Version + position)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The position a token of <see cref="Encode"/> holds; null for anything else (too long, not base64url, another version).</summary>
    public static string? Decode(string token)
    {
        if (token.Length > 200)
        {
            return null;
        }

        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=')));
            return text.StartsWith(Version, StringComparison.Ordinal) ? text[Version.Length..] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
