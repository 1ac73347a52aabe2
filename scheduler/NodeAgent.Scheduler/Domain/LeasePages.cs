using System.Globalization;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// Where a page of leases ends: the last lease's creation time and id, the order leases are listed in. The next page
/// starts after it, so a lease created or ended meanwhile neither repeats nor shifts one out of the listing.
/// </summary>
public sealed record LeasePosition(DateTimeOffset CreatedAt, LeaseId Id)
{
    public static LeasePosition Of(Lease lease) => new(lease.CreatedAt, lease.Id);

    /// <summary>The position as an opaque page token (<see cref="PageTokens"/> of "CREATED_MS:LEASE_ID").</summary>
    public string ToToken() => PageTokens.Encode(string.Create(CultureInfo.InvariantCulture, $"{CreatedAt.ToUnixTimeMilliseconds()}:{Id.Value}"));

    /// <summary>The position a token of <see cref="ToToken"/> names; false with the problem for anything else.</summary>
    public static bool TryParseToken(string token, out LeasePosition? position, out string problem)
    {
        position = null;
        problem = PageTokens.Problem;
        var parts = PageTokens.Decode(token)?.Split(':');
        if (parts is not { Length: 2 }
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var createdMs) || createdMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            || !LeaseId.TryParse(parts[1], out var id, out _))
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
