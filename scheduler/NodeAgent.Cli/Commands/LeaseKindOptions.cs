using System.CommandLine;
using Duration = Google.Protobuf.WellKnownTypes.Duration;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary>`ws lease`'s kind options: --best-effort (and its --queue-limit), or --start for an advance reservation.</summary>
internal sealed class LeaseKindOptions
{
    public const string Manual = """
        Kinds: without --best-effort or --start the lease is immediate: it starts now, or fails and says
        why no host could take it. --best-effort waits instead: the lease stays pending in your project's
        queue (first in, first out within a project; across projects, the one whose workspaces hold the
        fewest vCPUs goes first) until a host can take it, and then runs for its full --duration. ws
        follows it until it runs, printing why it waits and its place in the queue; --no-wait returns at
        once, and `ws show` tells the same. It gives up after --queue-limit (default a day).

        --start TIME reserves the capacity for the window [TIME, TIME + --duration) on one host: the
        scheduler admits it on a host that has the capacity free for the whole window, or refuses it
        and says why when no host has; nothing placed meanwhile may take that capacity (a lease that would run into the window goes to another host
        or fails, and `ws extend` refuses to run into it). At TIME the reservation becomes a running
        workspace on that host. TIME is local time unless it ends in Z (UTC) or an offset: 2026-12-01T09:00,
        2026-12-01T09:00Z, 2026-12-01T09:00+01:00. ws returns once the reservation is admitted.
        """;

    public Option<bool> BestEffort { get; } = new("--best-effort") { Description = "If no host can take it now, wait in your project's queue for one instead of failing." };

    public Option<string?> QueueLimit { get; } = new("--queue-limit") { Description = "With --best-effort: how long to wait for a host before giving up, e.g. 6h (at most 30d). Default: 1d." };

    public Option<string?> Start { get; } = new("--start")
    {
        Description = "Reserve the capacity for a window starting then, e.g. 2026-12-01T09:00 (local time; add Z for UTC); --duration is its length.",
    };

    public IEnumerable<Option> All => [BestEffort, QueueLimit, Start];

    /// <summary>Sets the request's kind and its fields from the command line; a usage error when they do not go together.</summary>
    public void Apply(ParseResult parse, CreateLeaseRequest request, TimeZoneInfo? zone = null)
    {
        var bestEffort = parse.GetValue(BestEffort);
        var queueLimit = parse.GetValue(QueueLimit);
        var start = parse.GetValue(Start);
        if (bestEffort && start is not null)
        {
            throw new UsageException("--best-effort and --start do not go together: a reservation (--start) is admitted or refused, it never waits in the queue");
        }

        if (queueLimit is not null && !bestEffort)
        {
            throw new UsageException("--queue-limit is only for --best-effort leases; add --best-effort or leave it out");
        }

        if (start is not null)
        {
            request.Kind = LeaseKind.Reservation;
            request.Start = Timestamp.FromDateTimeOffset(Parsing.Moment(start, "--start", zone));
        }
        else if (bestEffort)
        {
            request.Kind = LeaseKind.BestEffort;
            request.QueueLimit = queueLimit is null ? null : Duration.FromTimeSpan(Parsing.Duration(queueLimit, "--queue-limit"));
        }
        else
        {
            request.Kind = LeaseKind.Immediate;
        }
    }
}
