namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// Leases made by one request for several identical workspaces (a cluster, Nimbus's ensemble): placed whole or not at
/// all. Every member carries the group's id (<see cref="Lease.Group"/>); otherwise each is a lease like any other, and is
/// extended, released and saved on its own.
/// </summary>
/// <param name="Id">"g-" and the characters a lease id has after its "w-" (<see cref="LeaseId"/>).</param>
/// <param name="Leases">The members, in the order they were placed.</param>
public sealed record LeaseGroup(string Id, IReadOnlyList<Lease> Leases)
{
    /// <summary>The most workspaces one request may ask for: its placement holds the store's writer while it runs.</summary>
    public const int MaxSize = 1000;

    private const string Prefix = "g-";

    public static string NewId(DateTimeOffset createdAt) => Prefix + LeaseId.Part(createdAt);

    /// <summary>Whether <paramref name="text"/> is a group id as <see cref="NewId"/> makes them; the problem says what is wrong otherwise.</summary>
    public static bool IsValidId(string text, out string problem)
    {
        if (!Contract.IdSyntax.IsValid(text, out problem))
        {
            return false;
        }

        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            problem = $"'{text}' is not a group id; a group id starts with \"{Prefix}\" (`ws list` shows each lease's group)";
            return false;
        }

        return true;
    }
}
