using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>The queries of lease kinds: the best-effort queue, advance reservations, and what placed leases hold until when.</summary>
public partial interface ILeaseSession
{
    /// <summary>Every best-effort lease waiting for a host, first in first (the order they were inserted in).</summary>
    IReadOnlyList<Lease> Queued();

    /// <summary>
    /// Makes this write the only one until it commits that admits or starts a reservation, and keeps placements that read
    /// reservations waiting meanwhile (with replicas; SQLite has one writer anyway). Call before reading what it decides on.
    /// </summary>
    void LockReservations();

    /// <summary>Reservations not started yet whose window overlaps [<paramref name="windowStart"/>, <paramref name="windowEnd"/>).</summary>
    IReadOnlyList<Lease> ReservationsOverlapping(DateTimeOffset windowStart, DateTimeOffset windowEnd);

    /// <summary>Reservations not started yet whose start has come, earliest first.</summary>
    IReadOnlyList<Lease> ReservationsDue(DateTimeOffset now);

    /// <summary>Leases that hold capacity on a host and end after <paramref name="at"/>.</summary>
    IReadOnlyList<Lease> HoldingAfter(DateTimeOffset at);

    /// <summary>The vCPUs each project's leases hold now (projects holding none are absent).</summary>
    IReadOnlyDictionary<string, long> HeldVcpusByProject();

    /// <summary>How many live leases (not ended or failed) there are in each state, and how many wait in the best-effort queue: counted in indexes, without reading a lease.</summary>
    LiveLeaseCounts CountLive();
}

/// <summary>The live leases (not ended or failed) by state (states with none are absent), and those of them waiting in the best-effort queue.</summary>
public sealed record LiveLeaseCounts(IReadOnlyDictionary<LeaseState, int> ByState, int Queued)
{
    public int Total => ByState.Values.Sum();
}

/// <summary>Leases: the queries of lease kinds.</summary>
public sealed partial class LeaseStore
{
    private sealed partial class Session
    {
        /// <summary>A reservation that has not started: it is on its host but holds nothing yet.</summary>
        private const string Reserved = "(state = 'pending' AND kind = 'reservation')";

        public IReadOnlyList<Lease> Queued() =>
            Query($"SELECT {Columns} FROM leases WHERE state = 'pending' AND kind = 'best_effort' ORDER BY queue_seq");

        /// <summary>Gives a lease just inserted into the queue the next place in arrival order (see schema step 13).</summary>
        private void JoinQueue(LeaseId id)
        {
            sql.Serialize(connection, transaction, "queue");
            Execute("UPDATE leases SET queue_seq = (SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM leases WHERE queue_seq IS NOT NULL) WHERE lease_id = @id",
                ("@id", id.Value));
        }

        public void LockReservations() => sql.Serialize(connection, transaction, "reservations");

        // A write that reads reservations places around them: it waits for writes that admit or start one (LockReservations).
        public IReadOnlyList<Lease> ReservationsOverlapping(DateTimeOffset windowStart, DateTimeOffset windowEnd)
        {
            sql.Serialize(connection, transaction, "reservations", shared: true);
            return Query($"SELECT {Columns} FROM leases WHERE {Reserved} AND host_id IS NOT NULL AND start_at < @end AND expires_at > @start ORDER BY start_at, lease_id",
                ("@start", windowStart.ToUnixTimeMilliseconds()), ("@end", windowEnd.ToUnixTimeMilliseconds()));
        }

        public IReadOnlyList<Lease> ReservationsDue(DateTimeOffset now) =>
            Query($"SELECT {Columns} FROM leases WHERE {Reserved} AND start_at <= @now ORDER BY start_at, lease_id", ("@now", now.ToUnixTimeMilliseconds()));

        public IReadOnlyList<Lease> HoldingAfter(DateTimeOffset at) =>
            Query($"SELECT {Columns} FROM leases WHERE state IN ({HostRows.Holding}) AND host_id IS NOT NULL AND expires_at > @at", ("@at", at.ToUnixTimeMilliseconds()));

        public IReadOnlyDictionary<string, long> HeldVcpusByProject()
        {
            using var command = Command($"SELECT project, CAST(SUM(vcpus) AS BIGINT) FROM leases WHERE state IN ({HostRows.Holding}) GROUP BY project");
            using var r = command.ExecuteReader();
            var held = new Dictionary<string, long>(StringComparer.Ordinal);
            while (r.Read())
            {
                held[r.GetString(0)] = r.GetInt64(1);
            }

            return held;
        }

        // Both counts read only an index: leases_by_expiry (state, expires_at) and the pending leases' leases_waiting (kind, …).
        // Ended and failed leases, the history that only grows, are never visited.
        private static readonly string LiveStates =
            string.Join(", ", Enum.GetValues<LeaseState>().Where(s => s is not (LeaseState.Ended or LeaseState.Failed)).Select(s => $"'{StateName(s)}'"));

        public LiveLeaseCounts CountLive()
        {
            var byState = new Dictionary<LeaseState, int>();
            using (var command = Command($"SELECT state, CAST(COUNT(*) AS INTEGER) FROM leases WHERE state IN ({LiveStates}) GROUP BY state"))
            using (var r = command.ExecuteReader())
            {
                while (r.Read())
                {
                    byState[ParseState(r.GetString(0))] = r.GetInt32(1);
                }
            }

            using var queued = Command("SELECT CAST(COUNT(*) AS INTEGER) FROM leases WHERE state = 'pending' AND kind = 'best_effort'");
            return new LiveLeaseCounts(byState, Convert.ToInt32(queued.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
