using Google.Protobuf.WellKnownTypes;
using NodeAgent.Scheduler.Domain;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>A lease's kind and its times, checked at the boundary: which fields go with which kind.</summary>
internal static partial class WireMapping
{
    /// <summary>The latest start a Timestamp can carry that .NET can hold (9999-12-31T23:59:59Z).</summary>
    private const long MaxTimestampSeconds = 253_402_300_799;

    /// <summary>
    /// The request's kind, a reservation's start (milliseconds, as the store keeps them) and a best-effort lease's
    /// queue limit. A field that does not go with the kind is a problem, not ignored: the caller meant something.
    /// </summary>
    public static (LeaseKind Kind, DateTimeOffset? Start, TimeSpan QueueLimit) ToKind(V1.CreateLeaseRequest request, RequestValidator v)
    {
        var kind = request.Kind switch
        {
            V1.LeaseKind.Unspecified or V1.LeaseKind.Immediate => LeaseKind.Immediate,
            V1.LeaseKind.BestEffort => LeaseKind.BestEffort,
            V1.LeaseKind.Reservation => LeaseKind.Reservation,
            var other => Unknown(other, v),
        };

        DateTimeOffset? start = null;
        if (kind == LeaseKind.Reservation)
        {
            start = Start(request.Start, v);
        }
        else
        {
            v.Require(request.Start is null, "start is only for LEASE_KIND_RESERVATION; leave it out, or ask for a reservation");
        }

        var queueLimit = LeaseKinds.DefaultQueueLimit;
        if (request.QueueLimit is not null)
        {
            v.Require(kind == LeaseKind.BestEffort, "queue_limit is only for LEASE_KIND_BEST_EFFORT; leave it out, or ask for a best-effort lease");
            queueLimit = v.Duration("queue_limit", request.QueueLimit, TimeSpan.FromMinutes(1), LeaseKinds.MaxQueueLimit);
        }

        return (kind, start, queueLimit);
    }

    /// <summary>Adds the lease's kind, window, queue place and run time to its wire form.</summary>
    private static void AddKind(V1.Lease wire, Lease lease)
    {
        wire.Kind = lease.Kind switch
        {
            LeaseKind.BestEffort => V1.LeaseKind.BestEffort,
            LeaseKind.Reservation => V1.LeaseKind.Reservation,
            _ => V1.LeaseKind.Immediate,
        };
        wire.Start = lease.StartAt is { } start ? Timestamp.FromDateTimeOffset(start) : null;
        wire.QueuedAt = lease.QueuedAt is { } queued ? Timestamp.FromDateTimeOffset(queued) : null;
        wire.QueuePosition = (uint)lease.QueuePosition;
        wire.RunDuration = Duration.FromTimeSpan(lease.RunFor);
    }

    private static DateTimeOffset? Start(Timestamp? start, RequestValidator v)
    {
        if (start is null)
        {
            v.Require(false, "start is missing; a reservation needs the start of its window (duration is its length)");
            return null;
        }

        // Checked by hand: Timestamp.ToDateTimeOffset throws outside its range.
        if (start.Seconds is < 0 or > MaxTimestampSeconds || start.Nanos is < 0 or > 999_999_999)
        {
            v.Require(false, $"start is {start.Seconds}s {start.Nanos}ns after 1970; it must be a time between 1970 and 9999");
            return null;
        }

        var at = DateTimeOffset.FromUnixTimeSeconds(start.Seconds).AddMilliseconds(start.Nanos / 1_000_000);
        return at;
    }

    private static LeaseKind Unknown(V1.LeaseKind value, RequestValidator v)
    {
        v.Require(false, $"kind is {(int)value}; it must be one of LEASE_KIND_IMMEDIATE, LEASE_KIND_BEST_EFFORT, LEASE_KIND_RESERVATION");
        return LeaseKind.Immediate;
    }
}
