using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace NodeAgent.Scheduler.Security;

/// <summary>
/// Signed grants in image repository URLs, so hosts reach it without a credential of their own on plain HTTP: the
/// scheduler gives an agent the URL of each image its workspaces boot from, signed for that digest, and the URL for a
/// save, signed for that lease's save generation. A grant is an HMAC-SHA256 under a key every replica shares
/// (<see cref="Store.SecretStore"/>) and lasts <see cref="Lifetime"/>; a URL handed out again is signed again.
/// </summary>
public sealed class ImageGrants(byte[] key, TimeProvider time)
{
    /// <summary>The name of the signing key among the store's secrets.</summary>
    public const string KeyName = "image-grants";

    /// <summary>How long a grant lasts at least (at most a day more): long enough for a slow download or save, short enough that a leaked URL goes stale.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(1);

    /// <summary><paramref name="url"/> (of the blob <paramref name="sha256"/>) with a grant to read it.</summary>
    public string SignDownload(string url, string sha256)
    {
        var expires = Expiry();
        return $"{url}?expires={expires}&grant={Mac($"get\n{sha256}\n{expires}")}";
    }

    /// <summary>The repository URL a host uploads a save of <paramref name="lease"/>'s generation <paramref name="generation"/> to.</summary>
    public string SignUpload(string repositoryUrl, string lease, long generation)
    {
        var expires = Expiry();
        return $"{repositoryUrl}?lease={lease}&generation={generation}&expires={expires}&grant={Mac($"put\n{lease}\n{generation}\n{expires}")}";
    }

    public bool AllowsDownload(IQueryCollection query, string sha256) =>
        Valid(query, out var expires) && Matches(query, $"get\n{sha256}\n{expires}");

    public bool AllowsUpload(IQueryCollection query) =>
        Valid(query, out var expires) && query["lease"].ToString() is { Length: > 0 and <= 64 } lease &&
        long.TryParse(query["generation"], NumberStyles.None, CultureInfo.InvariantCulture, out var generation) &&
        Matches(query, $"put\n{lease}\n{generation}\n{expires}");

    /// <summary>
    /// The end of the next whole day (UTC) after <see cref="Lifetime"/>: a URL signed twice the same day is the same URL, so
    /// a desired set sent again does not differ from the last one by its signatures alone.
    /// </summary>
    private long Expiry()
    {
        const long day = 86_400;
        var at = (time.GetUtcNow() + Lifetime).ToUnixTimeSeconds();
        return (at / day + 1) * day;
    }

    private bool Valid(IQueryCollection query, out long expires) =>
        long.TryParse(query["expires"], NumberStyles.None, CultureInfo.InvariantCulture, out expires) && time.GetUtcNow().ToUnixTimeSeconds() < expires;

    private bool Matches(IQueryCollection query, string text)
    {
        var given = query["grant"].ToString();
        return given.Length == 43 && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(given), Encoding.ASCII.GetBytes(Mac(text)));
    }

    private string Mac(string text) => WebEncoders.Base64UrlEncode(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));
}
