using System.Collections;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Hosts as a lease session sees them: from <see cref="HostCache"/>, except those the session has changed (a lease
/// placed on or moved off it, its desired set bumped), so a second placement in one transaction sees the first one's
/// claim. Alone on SQLite, where the cache keeps what leases hold (schema step 25), the session counts its own lease
/// writes onto the cached row (<see cref="Count"/>); with replicas, where triggers keep it on the row, it reads the row
/// in the transaction.
/// </summary>
/// <remarks>
/// With replicas (<see cref="SqlDialect.Replicated"/>) the cache may be behind what another replica committed. A write
/// then reads the host it is asked for (<see cref="FindHost"/>) from the database; and before it puts a lease on a
/// host where it did not hold capacity (or reserves it there), it locks the host's row and checks that what it decided
/// on (the host as it was shown it: capacity, what foreign domains use, what leases hold, its admin state) is still the
/// row, or differs only in what leases hold and the lease still fits (<see cref="Session.StillFits"/>). If not,
/// <see cref="HostChangedException"/> rolls the write back, and the database runs it again. The lock is
/// taken last, after the locks of addresses, quotas, groups and reservations, so writes take locks in one order.
/// </remarks>
public sealed partial class LeaseStore
{
    private sealed partial class Session
    {
        private readonly HashSet<HostId> _changed = [];
        private readonly Dictionary<HostId, HostRecord> _read = [];
        private readonly HashSet<HostId> _locked = [];
        /// <summary>The host as the session's caller was shown it; null when it was shown two versions that differ.</summary>
        private readonly Dictionary<HostId, HostRecord?> _seen = [];
        /// <summary>When the cache keeps holdings: what this session's lease writes changed on each host.</summary>
        private readonly Dictionary<HostId, Holding> _holdings = [];

        private bool Checks => sql.Replicated && transaction is not null;

        public IHostsWithLive Hosts() => _changed.Count == 0 && !Checks ? hosts.All() : new Overlay(hosts.All(), this);

        public HostRecord? FindHost(HostId host)
        {
            if (_changed.Contains(host))
            {
                return Read(host);
            }

            if (!Checks)
            {
                return hosts.Find(host);
            }

            if (hosts.Find(host) is null)
            {
                return null;
            }

            // As committed now; the cache learns it too, so whatever the session reads there next agrees.
            var current = Read(host);
            hosts.Put(current);
            return Seen(current);
        }

        public long BumpDesiredVersion(HostId host)
        {
            Touch(host);
            if (hosts.KeepsHoldings)
            {
                var holding = HoldingOn(host);
                if (holding.Version is null)
                {
                    AfterCommit(() => hosts.Publish(host, holding.Version!.Value));
                }

                holding.Version = hosts.NextDesiredVersion();
                return holding.Version.Value;
            }

            using var command = Command("UPDATE hosts SET desired_version = desired_version + 1 WHERE host_id = @id RETURNING desired_version", ("@id", host.Value));
            return Convert.ToInt64(command.ExecuteScalar() ?? throw new StoreException($"host {host} is not in the database"), System.Globalization.CultureInfo.InvariantCulture);
        }

        public long? StoredDesiredVersion(HostId host)
        {
            if (hosts.KeepsHoldings)
            {
                return _holdings.TryGetValue(host, out var holding) && holding.Version is { } bumped ? bumped : hosts.Find(host)?.DesiredVersion;
            }

            using var command = Command("SELECT desired_version FROM hosts WHERE host_id = @id", ("@id", host.Value));
            return command.ExecuteScalar() is { } version and not DBNull ? Convert.ToInt64(version, System.Globalization.CultureInfo.InvariantCulture) : null;
        }

        /// <summary>The rows of the hosts this session changed, as committed if the transaction commits.</summary>
        public List<HostRecord> ChangedHosts() => _changed.Select(Read).ToList();

        private void Touch(HostId? host)
        {
            if (host is { } id)
            {
                _changed.Add(id);
                _read.Remove(id);
            }
        }

        /// <summary>
        /// When the cache keeps holdings: counts <paramref name="lease"/>, in <paramref name="state"/> on
        /// <paramref name="host"/>, in (<paramref name="sign"/> 1) or out (-1) of what the host's leases hold and how many
        /// of them are stopping: what the held_* and stopping_leases triggers do on PostgreSQL.
        /// </summary>
        private void Count(HostId? host, Lease lease, LeaseState state, int sign)
        {
            if (!hosts.KeepsHoldings || host is not { } id || !Lease.CapacityHoldingStates.Contains(state))
            {
                return;
            }

            Touch(id);
            var holding = HoldingOn(id);
            holding.Held = sign > 0 ? holding.Held.Add(lease.Claim) : holding.Held.Subtract(lease.Claim);
            holding.Stopping += state == LeaseState.Stopping ? sign : 0;
        }

        private Holding HoldingOn(HostId host)
        {
            if (!_holdings.TryGetValue(host, out var holding))
            {
                _holdings[host] = holding = new Holding();
            }

            return holding;
        }

        /// <summary>Where the lease is stored now and whether it holds capacity or a reservation there; null when it is not stored.</summary>
        private StoredClaim? StoredClaim(LeaseId lease)
        {
            using var command = Command("SELECT host_id, state, kind FROM leases WHERE lease_id = @id", ("@id", lease.Value));
            using var r = command.ExecuteReader();
            if (!r.Read())
            {
                return null;
            }

            var host = r.IsDBNull(0) ? (HostId?)null : HostId.Parse(r.GetString(0));
            var state = ParseState(r.GetString(1));
            var holds = Lease.CapacityHoldingStates.Contains(state) || (state == LeaseState.Pending && r.GetString(2) == "reservation");
            return new StoredClaim(host, holds, state);
        }

        /// <summary>
        /// With replicas: before <paramref name="lease"/> is written to hold capacity (or a reservation) on a host where it
        /// did not, locks that host and checks that the session decided on the host as it is now.
        /// </summary>
        private void VerifyClaim(Lease lease, StoredClaim? before)
        {
            if (!Checks || lease.Host is not { } host || _locked.Contains(host))
            {
                return;
            }

            var claims = lease.HoldsCapacity || (lease.State == LeaseState.Pending && lease.Kind == LeaseKind.Reservation);
            if (!claims || (before is { Holds: true } && before.Host == host))
            {
                return;
            }

            var current = HostRows.ReadOne(sql, connection, transaction, host, sql.LockRows(transaction));
            _locked.Add(host);
            if (_seen.TryGetValue(host, out var decidedOn) && (decidedOn is null || !SameForPlacement(decidedOn, current)) && !StillFits(lease, decidedOn, current))
            {
                throw new HostChangedException(current);
            }
        }

        private static bool SameForPlacement(HostRecord a, HostRecord b) =>
            a.Allocated == b.Allocated && SameButAllocated(a, b);

        private static bool SameButAllocated(HostRecord a, HostRecord b) =>
            a.Registration.Capacity == b.Registration.Capacity && a.Load.Foreign == b.Load.Foreign && a.Admin.State == b.Admin.State;

        /// <summary>
        /// Whether a lease decided on <paramref name="decidedOn"/> may still be put on the host as it is now, locked: only
        /// what leases hold there changed (other replicas placed or released meanwhile), and the lease fits in what is
        /// free now. No placement filter but capacity reads what leases hold, so the decision stands, as in Omega's
        /// fine-grained conflict check; without it, replicas placing on the same few hosts ran again and again. A host
        /// with a reservation waiting is held to the whole check: whether a lease leaves room for the reservation
        /// depends on which other leases hold the host, not on the total alone.
        /// </summary>
        private bool StillFits(Lease lease, HostRecord? decidedOn, HostRecord current)
        {
            if (decidedOn is null || !lease.HoldsCapacity || !SameButAllocated(decidedOn, current) || !lease.Claim.Fits(current.Free))
            {
                return false;
            }

            using var command = Command($"SELECT 1 FROM leases WHERE host_id = @host AND {Reserved} LIMIT 1", ("@host", current.Id.Value));
            return command.ExecuteScalar() is null;
        }

        /// <summary>
        /// The host as this transaction sees it. When the cache keeps holdings, the cached row with what this session's
        /// lease writes changed; with replicas, the row read in the transaction.
        /// </summary>
        private HostRecord Read(HostId host)
        {
            if (!_read.TryGetValue(host, out var record))
            {
                record = hosts.KeepsHoldings
                    ? WithHolding(hosts.Find(host) ?? throw new StoreException($"host {host} is not registered with this scheduler"))
                    : HostRows.ReadOne(sql, connection, transaction, host, _locked.Contains(host) ? sql.LockRows(transaction) : string.Empty);
                _read[host] = record;
            }

            return record;
        }

        private HostRecord WithHolding(HostRecord cached) => _holdings.TryGetValue(cached.Id, out var holding)
            ? cached with
            {
                Allocated = cached.Allocated.Add(holding.Held),
                StoppingLeases = cached.StoppingLeases + holding.Stopping,
                DesiredVersion = holding.Version ?? cached.DesiredVersion,
            }
            : cached;

        /// <summary>
        /// Notes the host as handed to the session's caller. Shown two versions that differ, the caller may have decided on
        /// either: <see cref="VerifyClaim"/> then has the write run again.
        /// </summary>
        private HostRecord Seen(HostRecord shown)
        {
            if (!Checks)
            {
                return shown;
            }

            if (!_seen.TryGetValue(shown.Id, out var before))
            {
                _seen[shown.Id] = shown;
            }
            else if (before is not null && !SameForPlacement(before, shown))
            {
                _seen[shown.Id] = null;
            }

            return shown;
        }

        /// <summary>The cached hosts with the changed ones as this transaction sees them.</summary>
        private sealed class Overlay(IHostsWithLive cached, Session session) : IHostsWithLive
        {
            public int Count => cached.Count;

            public HostRecord this[int index] => cached[index] is var host && session._changed.Contains(host.Id) ? session.Read(host.Id) : session.Seen(host);

            public Hosts.HostLive LiveAt(int index) => cached.LiveAt(index);

            /// <summary>The cache's kept candidate when this transaction sees the cached row; made from the row it sees otherwise.</summary>
            public PlacementCandidate CandidateAt(int index, DateTimeOffset now, TimeSpan ttl,
                Func<HostRecord, Hosts.HostLive, HostHealth, PlacementCandidate> make) =>
                this[index] is var host && ReferenceEquals(host, cached[index]) && cached.CandidateAt(index, now, ttl, make) is var kept && ReferenceEquals(kept.Host, host)
                    ? kept
                    : make(host, cached.LiveAt(index), host.HealthAt(now, ttl));

            public void PrefetchCell(int index) => cached.PrefetchCell(index);

            public void PrefetchCandidate(int index) => cached.PrefetchCandidate(index);

            public IEnumerator<HostRecord> GetEnumerator()
            {
                for (var i = 0; i < Count; i++)
                {
                    yield return this[i];
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }

    /// <summary>Where a lease is stored, whether it holds capacity or a reservation there, and its state.</summary>
    private sealed record StoredClaim(HostId? Host, bool Holds, LeaseState State);

    /// <summary>What one session's lease writes changed on a host: added to what leases hold and to how many stop, and its new version.</summary>
    private sealed class Holding
    {
        public Resources Held { get; set; } = Resources.None;

        public int Stopping { get; set; }

        public long? Version { get; set; }
    }
}

/// <summary>
/// A write decided on a host that another writer (another replica) changed meanwhile; it was rolled back and is run
/// again with <see cref="Current"/> in the cache.
/// </summary>
public sealed class HostChangedException(HostRecord current) : Exception($"host {current.Id} changed while a lease was placed on it")
{
    public HostRecord Current { get; } = current;
}
