using System.Collections;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Placement;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Every host's row as last committed, in memory, so placement reads 10,000 hosts without a query and a heartbeat
/// answers its desired-set version without one. Loaded from the database when it is opened; after that, every write to a
/// host's row puts the row here (the <c>applied</c> action of <see cref="IStoreDatabase.WriteAsync{T}"/>). On SQLite that
/// happens before the next write runs, so a writer always sees what the writers before it wrote; after a commit that
/// fails, the cache is read again. On PostgreSQL other replicas write too: the cache is read again every second or so,
/// and a write checks the host it claims against the database (LeaseStore.Hosts.cs). A row is replaced whole, by one
/// reference write: a reader may see one host newer than another, never half a host.
/// Beside each row is what only the host's heartbeats bring (<see cref="HostLive"/>), so a placement that examines a
/// host and a heartbeat that updates it find both with one lookup (placement, by position, with none).
/// Alone on SQLite the cache also keeps what no row holds (schema step 25): what each host's leases hold, how many of
/// them are stopping, and its desired version. <paramref name="load"/> sums the first two from the leases and gives each
/// host a new version; after that, a lease write changes them (<see cref="PutHeld"/>) and a version is published once
/// the write that bumped it has committed (<see cref="Publish"/>), so a version read here is never newer than the
/// leases a reader finds after it.
/// </summary>
/// <param name="versions">Where versions come from when the cache keeps holdings; null when the rows keep them (PostgreSQL).</param>
public sealed class HostCache(Func<IReadOnlyList<HostRecord>> load, DesiredVersions? versions = null)
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<HostId, Slot> _byId = new();
    private long _puts;
    private View? _ordered = new([], []);

    /// <summary>
    /// Every host, ordered by id. A live view: a host's entry may be replaced while the caller reads. A host added or
    /// removed orders them again, in a new view; a view taken before may then show a host as it was until it is let go
    /// (a placement's checks in the write see the host as it is).
    /// </summary>
    public IHostsWithLive All()
    {
        if (Volatile.Read(ref _ordered) is { } ordered)
        {
            return ordered;
        }

        lock (_gate)
        {
            if (_ordered is null)
            {
                var slots = _byId.Values.OrderBy(s => s.Record.Id.Value, StringComparer.Ordinal).ToArray();
                var candidates = new PlacementCandidate?[slots.Length];
                for (var i = 0; i < slots.Length; i++)
                {
                    slots[i].KeepCandidateIn(new CandidateCell(candidates, i));
                }

                Volatile.Write(ref _ordered, new View(slots, candidates));
            }

            return _ordered;
        }
    }

    public HostRecord? Find(HostId id) => _byId.TryGetValue(id, out var slot) ? slot.Record : null;

    /// <summary>What the host's heartbeats brought; null when the host is not known.</summary>
    public HostLive? Live(HostId id) => _byId.TryGetValue(id, out var slot) ? slot.Live : null;

    /// <summary>Whether what leases hold, how many stop and the desired version are kept here rather than on the rows.</summary>
    public bool KeepsHoldings => versions is not null;

    /// <summary>
    /// Puts a written row in; a host not seen before is added. Call from a write's applied action. When the cache
    /// keeps holdings, the row's are not taken: a host keeps its own, and a new one holds nothing under a new version.
    /// </summary>
    public void Put(HostRecord record)
    {
        lock (_gate)
        {
            _puts++;
            if (_byId.TryGetValue(record.Id, out var slot))
            {
                var kept = versions is null ? record : record with
                {
                    Allocated = slot.Record.Allocated, StoppingLeases = slot.Record.StoppingLeases, DesiredVersion = slot.Record.DesiredVersion,
                };
                slot.Record = WithNewerHeartbeat(kept, slot.Record);
                slot.PutAt = _puts;
                return;
            }

            var added = versions is null ? record : record with { Allocated = Resources.None, StoppingLeases = 0, DesiredVersion = versions.Next() };
            _byId[record.Id] = new Slot(added) { PutAt = _puts };
            Volatile.Write(ref _ordered, null);
        }
    }

    /// <summary>
    /// Puts in a row a lease write changed. When the cache keeps holdings, only what leases hold and how many stop are
    /// taken from it: the write's versions are published once it commits (<see cref="Publish"/>).
    /// </summary>
    public void PutHeld(HostRecord record)
    {
        if (versions is null)
        {
            Put(record);
            return;
        }

        Change(record.Id, host => host with { Allocated = record.Allocated, StoppingLeases = record.StoppingLeases });
    }

    /// <summary>A desired version never given out before; only when the cache keeps holdings.</summary>
    public long NextDesiredVersion() =>
        (versions ?? throw new InvalidOperationException("the database keeps desired versions on the host rows")).Next();

    /// <summary>
    /// Makes <paramref name="version"/> the host's desired version, once the write that bumped it has committed, unless
    /// a newer one is in already (writes of one batch publish in any order).
    /// </summary>
    public void Publish(HostId id, long version)
    {
        lock (_gate)
        {
            if (_byId.TryGetValue(id, out var slot) && slot.Record.DesiredVersion < version)
            {
                slot.Record = slot.Record with { DesiredVersion = version };
            }
        }
    }

    /// <summary>
    /// Replaces a host's row with <paramref name="change"/> of it; false when the host is not known. A change is made
    /// under the same lock as <see cref="Put"/>, so neither loses the other's update.
    /// </summary>
    public bool Change(HostId id, Func<HostRecord, HostRecord> change)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var slot))
            {
                return false;
            }

            slot.Record = change(slot.Record);
            return true;
        }
    }

    /// <summary>
    /// Reads every row from the database again, and forgets hosts that are not there: on opening it, and after a commit
    /// that failed once its writes were put here. When the cache keeps holdings, every host gets a new version too. Call when no write is under way (SQLite's writer does), or a host
    /// registered meanwhile would be forgotten. A heartbeat kept only here that is newer than the row's stays.
    /// </summary>
    public void Reload() => Merge(load(), complete: true, since: long.MaxValue);

    /// <summary>
    /// Reads every row from the database again, while others write (with replicas, every second or so, for what the
    /// other replicas wrote): rows read replace those here, keeping a newer heartbeat; no host is forgotten. A row put
    /// here after the read began is kept, since the read may not have seen its commit.
    /// </summary>
    public void Refresh()
    {
        long since;
        lock (_gate)
        {
            since = _puts;
        }

        Merge(load(), complete: false, since);
    }

    /// <param name="since">Rows put here after this many puts are newer than what was loaded, and stay.</param>
    private void Merge(IReadOnlyList<HostRecord> loaded, bool complete, long since)
    {
        lock (_gate)
        {
            if (complete && loaded.Count < _byId.Count)
            {
                // A host that is not in the database (its registration was never committed) leaves.
                var ids = loaded.Select(r => r.Id).ToHashSet();
                foreach (var gone in _byId.Keys.Where(id => !ids.Contains(id)).ToList())
                {
                    _byId.TryRemove(gone, out _);
                }

                Volatile.Write(ref _ordered, null);
            }

            foreach (var record in loaded)
            {
                if (_byId.TryGetValue(record.Id, out var slot))
                {
                    if (slot.PutAt <= since)
                    {
                        slot.Record = WithNewerHeartbeat(record, slot.Record);
                    }
                }
                else
                {
                    _byId[record.Id] = new Slot(record);
                    Volatile.Write(ref _ordered, null);
                }
            }
        }
    }

    /// <summary>
    /// The row written, keeping the cached heartbeat when it is newer: heartbeats are recorded in the database only
    /// now and then (<see cref="IHostStore.NoteHeartbeat"/>), so a row read back after a claim may carry an older one.
    /// </summary>
    private static HostRecord WithNewerHeartbeat(HostRecord written, HostRecord cached) =>
        cached.LastHeartbeatAt is { } live && (written.LastHeartbeatAt is not { } stored || live > stored)
            ? written with { Load = cached.Load, LastHeartbeatAt = cached.LastHeartbeatAt, DegradedReason = cached.DegradedReason,
                Registration = written.Registration with { Capacity = cached.Registration.Capacity } }
            : written;

    /// <summary>Where a host's candidate is kept: its position in the current view's array.</summary>
    private sealed record CandidateCell(PlacementCandidate?[] Candidates, int Index)
    {
        public static readonly CandidateCell None = new([null], 0);
    }

    private sealed class Slot
    {
        private HostRecord _record;
        private CandidateCell _cell = CandidateCell.None;
        private long _changes;

        public Slot(HostRecord record)
        {
            _record = record;
            Live = new HostLive(Forget);
        }

        public HostLive Live { get; }

        /// <summary>The count of puts when this row was last put (written under the cache's lock).</summary>
        public long PutAt { get; set; }

        public HostRecord Record
        {
            get => Volatile.Read(ref _record);
            set
            {
                Volatile.Write(ref _record, value);
                Forget();
            }
        }

        /// <summary>From now on, the host's candidate is kept in <paramref name="cell"/> (a new view's array, empty).</summary>
        public void KeepCandidateIn(CandidateCell cell) => Volatile.Write(ref _cell, cell);

        /// <summary>
        /// <paramref name="make"/>'s candidate for the row and live figures now, kept in the view's array for the next
        /// placement unless they changed while it was made.
        /// </summary>
        public PlacementCandidate Make(DateTimeOffset now, TimeSpan ttl, Func<HostRecord, HostLive, HostHealth, PlacementCandidate> make)
        {
            var changes = Volatile.Read(ref _changes);
            var record = Record;
            var made = make(record, Live, record.HealthAt(now, ttl));
            var cell = Volatile.Read(ref _cell);
            Interlocked.Exchange(ref cell.Candidates[cell.Index], made); // a full fence: the read below cannot come before this write
            if (Volatile.Read(ref _changes) != changes)
            {
                // The row, the load or the images changed while it was made: it may hold the old ones, so it is not kept.
                Interlocked.CompareExchange(ref cell.Candidates[cell.Index], null, made);
            }

            return made;
        }

        /// <summary>Drops the kept candidate: the row, the load or the images changed.</summary>
        private void Forget()
        {
            Interlocked.Increment(ref _changes);
            var cell = Volatile.Read(ref _cell);
            Volatile.Write(ref cell.Candidates[cell.Index], null);
        }
    }

    /// <summary>
    /// The hosts in order, and beside each the host as placement last saw it (null: not made since it changed). A kept
    /// candidate is read from the array alone: examining a host touches one object, not its row and live figures.
    /// </summary>
    private sealed class View(Slot[] slots, PlacementCandidate?[] candidates) : IHostsWithLive
    {
        public int Count => slots.Length;

        public HostRecord this[int index] => slots[index].Record;

        public HostLive LiveAt(int index) => slots[index].Live;

        public PlacementCandidate CandidateAt(int index, DateTimeOffset now, TimeSpan ttl, Func<HostRecord, HostLive, HostHealth, PlacementCandidate> make)
        {
            var made = Volatile.Read(ref candidates[index]) ?? slots[index].Make(now, ttl, make);
            var health = made.HealthAt(now, ttl);
            return made.Health == health ? made : made with { Health = health };
        }

        public unsafe void PrefetchCell(int index)
        {
            if (Sse.IsSupported && (uint)index < (uint)candidates.Length)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref candidates[index]));
            }
        }

        /// <summary>
        /// Asks for the host's kept candidate, if there is one, with the free and capacity records made just before it
        /// (<c>LeaseManager.MakeCandidate</c>): from 88 bytes before the object's address to 120 after, four cache lines.
        /// The address is read without pinning the object; if a collection moves it meanwhile, the prefetch reads memory
        /// nothing needs, which costs nothing more (a prefetch never faults).
        /// </summary>
        public unsafe void PrefetchCandidate(int index)
        {
            if (!Sse.IsSupported || (uint)index >= (uint)candidates.Length || Volatile.Read(ref candidates[index]) is not { } kept)
            {
                return;
            }

            var at = (byte*)Unsafe.As<PlacementCandidate, nint>(ref kept);
            Sse.Prefetch0(at - 88);
            Sse.Prefetch0(at - 24);
            Sse.Prefetch0(at + 40);
            Sse.Prefetch0(at + 119);
        }

        public IEnumerator<HostRecord> GetEnumerator()
        {
            foreach (var slot in slots)
            {
                yield return slot.Record;
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>
/// Hosts by position, with what each one's heartbeats brought at the same position, and the candidates kept for them,
/// which placement can prefetch.
/// </summary>
public interface IHostsWithLive : IReadOnlyList<HostRecord>, ICandidatePrefetch
{
    HostLive LiveAt(int index);

    /// <summary>
    /// The host at <paramref name="index"/> as placement sees it at <paramref name="now"/>, apart from a request's
    /// groups: made by <paramref name="make"/> from its row, live figures and health, and kept until the row or the
    /// live figures change.
    /// </summary>
    PlacementCandidate CandidateAt(int index, DateTimeOffset now, TimeSpan ttl, Func<HostRecord, HostLive, HostHealth, PlacementCandidate> make);
}
