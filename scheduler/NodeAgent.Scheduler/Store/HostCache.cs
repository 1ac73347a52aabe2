using System.Collections;
using System.Collections.Concurrent;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Every host's row as last committed, in memory, so placement reads 10,000 hosts without a query and a heartbeat
/// answers its desired-set version without one. Loaded from the database on first use; after that, every write to a
/// host's row puts the row here before the next write runs (the <c>applied</c> action of
/// <see cref="SqliteDatabase.WriteAsync{T}(Func{Microsoft.Data.Sqlite.SqliteConnection, Microsoft.Data.Sqlite.SqliteTransaction, T}, Action{T}, CancellationToken)"/>),
/// so a writer always sees what the writers before it wrote; a commit that fails empties the cache, and the next
/// read loads it again. A row is replaced whole, by one reference write: a reader may see one host newer than
/// another, never half a host.
/// </summary>
public sealed class HostCache(Func<IReadOnlyList<HostRecord>> load)
{
    private readonly Lock _gate = new();
    private ConcurrentDictionary<HostId, Slot>? _byId;
    private Slot[]? _ordered;

    /// <summary>Every host, ordered by id. A live view: a host's entry may be replaced while the caller reads.</summary>
    public IReadOnlyList<HostRecord> All()
    {
        if (Volatile.Read(ref _ordered) is { } ordered)
        {
            return new View(ordered);
        }

        lock (_gate)
        {
            var byId = Loaded();
            _ordered ??= [.. byId.Values.OrderBy(s => s.Record.Id.Value, StringComparer.Ordinal)];
            return new View(_ordered);
        }
    }

    public HostRecord? Find(HostId id)
    {
        var byId = Volatile.Read(ref _byId);
        if (byId is null)
        {
            lock (_gate)
            {
                byId = Loaded();
            }
        }

        return byId.TryGetValue(id, out var slot) ? slot.Record : null;
    }

    /// <summary>Puts a written row in; a host not seen before is added. Call from a write's applied action.</summary>
    public void Put(HostRecord record)
    {
        lock (_gate)
        {
            if (_byId is null)
            {
                // Not loaded yet: the load will read this row from the database.
                return;
            }

            if (_byId.TryGetValue(record.Id, out var slot))
            {
                slot.Record = record;
                return;
            }

            _byId[record.Id] = new Slot(record);
            Volatile.Write(ref _ordered, null);
        }
    }

    /// <summary>Replaces a host's row with <paramref name="change"/> of it, if the host is known. Call from a write's applied action.</summary>
    public void Change(HostId id, Func<HostRecord, HostRecord> change)
    {
        if (Volatile.Read(ref _byId) is { } byId && byId.TryGetValue(id, out var slot))
        {
            slot.Record = change(slot.Record);
        }
    }

    /// <summary>Forgets every row: the next read loads them again (after a commit failed).</summary>
    public void Invalidate()
    {
        lock (_gate)
        {
            _byId = null;
            _ordered = null;
        }
    }

    private ConcurrentDictionary<HostId, Slot> Loaded()
    {
        if (_byId is null)
        {
            var byId = new ConcurrentDictionary<HostId, Slot>();
            foreach (var record in load())
            {
                byId[record.Id] = new Slot(record);
            }

            Volatile.Write(ref _byId, byId);
        }

        return _byId;
    }

    private sealed class Slot(HostRecord record)
    {
        private HostRecord _record = record;

        public HostRecord Record
        {
            get => Volatile.Read(ref _record);
            set => Volatile.Write(ref _record, value);
        }
    }

    private sealed class View(Slot[] slots) : IReadOnlyList<HostRecord>
    {
        public int Count => slots.Length;

        public HostRecord this[int index] => slots[index].Record;

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
