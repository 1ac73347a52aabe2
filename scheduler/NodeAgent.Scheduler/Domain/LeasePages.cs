using System.Globalization;
using System.Text;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// Where a page of leases ends: the last lease's creation time and id, the order leases are listed in. The next page
/// starts after it, so a lease created or ended meanwhile neither repeats nor shifts one out of the listing.
/// </summary>
public sealed record LeasePosition(DateTimeOffset CreatedAt, LeaseId Id)
{
    private const string Version = "1";

    public static LeasePosition Of(Lease lease) => new(lease.CreatedAt, lease.Id);

    /// <summary>The position as an opaque page token (base64url of "1:CREATED_MS:LEASE_ID").</summary>
    public string ToToken() =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version}:{CreatedAt.ToUnixTimeMilliseconds()}:{Id.Value}")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The position a token of <see cref="ToToken"/> names; false with the problem for anything else.</summary>
    public static bool TryParseToken(string token, out LeasePosition? position, out string problem)
    {
        position = null;
        problem = "is not a page token this scheduler gave out; list again without it to start from the first page";
        if (token.Length > 200)
        {
            return false;
        }

        string text;
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            text = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=')));
        }
        catch (FormatException)
        {
            return false;
        }

        var parts = text.Split(':');
        if (parts.Length != 3 || parts[0] != Version
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var createdMs) || createdMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            || !LeaseId.TryParse(parts[2], out var id, out _))
        {
            return false;
        }

        position = new LeasePosition(DateTimeOffset.FromUnixTimeMilliseconds(createdMs), id);
        problem = string.Empty;
        return true;
    }
}

/// <summary>One page of a lease listing, and where the next starts (null: this is the last).</summary>
public sealed record LeasePage(IReadOnlyList<Lease> Leases, LeasePosition? Next)
{
    /// <summary>Leases per page when the request does not say.</summary>
    public const int DefaultSize = 500;

    /// <summary>The most leases a page holds: about 1 MiB on the wire, well under the 4 MiB message limit.</summary>
    public const int MaxSize = 1000;
}
