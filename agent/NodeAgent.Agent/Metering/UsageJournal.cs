using System.Buffers.Binary;
using System.Security.Cryptography;
using NodeAgent.Agent.Images;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// The host's usage records on its own disk until the scheduler has stored them: an append-only file
/// (<c>DIRECTORY/usage.journal</c>) of CRC-checked entries, each fsynced before it counts. Each sample's records
/// and the baselines they advanced to go into one entry, so a crash keeps both or neither. Records get this host's
/// next sequence numbers as they are appended; the next number is in every entry, so it survives compaction.
/// A new journal draws a random non-zero <see cref="Epoch"/>, kept in every entry and every record: sequences are
/// unique per (host, epoch), so a host whose journal was lost (and whose new one numbers from 1 again) is not taken
/// for one resending old records. A journal written before epochs (entry format 1) keeps epoch 0.
/// On open a torn last entry (a crash mid-write) is cut off. <see cref="Acknowledge"/> drops the records the
/// scheduler stored by rewriting the file (temporary file, fsync, rename, directory fsync): either the old file or the
/// new one is there after a crash, and both say the same about every record not yet acknowledged. Thread-safe.
/// </summary>
public sealed class UsageJournal : IDisposable
{
    public const string FileName = "usage.journal";

    private readonly Lock _lock = new();
    private readonly string _directory;
    private readonly string _path;
    private readonly List<UsageRecord> _pending = [];
    private Dictionary<string, UsageBaseline> _baselines = new(StringComparer.Ordinal);
    private FileStream _file;
    private ulong _epoch;
    private ulong _acknowledged;
    private ulong _next = 1;
    private DateTimeOffset? _lastSample;

    private UsageJournal(string directory, Random? epochSource)
    {
        _directory = directory;
        _path = Path.Combine(directory, FileName);
        _file = Load(epochSource);
    }

    /// <summary>Raised after records were appended (on the appending thread): the shipper wakes to send them.</summary>
    public event Action? Appended;

    /// <summary>Bytes of a torn last entry cut off when the journal was opened; 0 after a clean shutdown.</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>
    /// This journal's epoch, drawn once when it was created and carried by every record it numbers (0: a journal
    /// written before epochs). Its records' sequences are unique within it.
    /// </summary>
    public ulong Epoch
    {
        get { lock (_lock) { return _epoch; } }
    }

    /// <summary>The sequence the next appended record gets.</summary>
    public ulong NextSequence
    {
        get { lock (_lock) { return _next; } }
    }

    /// <summary>Every record up to this sequence is stored by the scheduler and gone from the journal.</summary>
    public ulong AcknowledgedSequence
    {
        get { lock (_lock) { return _acknowledged; } }
    }

    /// <summary>When the latest sample was written, or null when none was.</summary>
    public DateTimeOffset? LastSample
    {
        get { lock (_lock) { return _lastSample; } }
    }

    /// <summary>Each workspace's counters at the latest sample.</summary>
    public IReadOnlyDictionary<string, UsageBaseline> Baselines
    {
        get { lock (_lock) { return _baselines; } }
    }

    public int PendingCount
    {
        get { lock (_lock) { return _pending.Count; } }
    }

    /// <summary>
    /// Opens (or creates) the journal in <paramref name="directory"/>, reading every whole entry and cutting off a torn
    /// tail. A journal without a whole entry (new, or lost to corruption from its first entry on) draws a new epoch from
    /// <paramref name="epochSource"/> (null: <see cref="Random.Shared"/>) and writes it in a first entry.
    /// </summary>
    public static UsageJournal Open(string directory, Random? epochSource = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        return new UsageJournal(directory, epochSource);
    }

    /// <summary>Up to <paramref name="max"/> records not yet acknowledged, lowest sequence first.</summary>
    public IReadOnlyList<UsageRecord> Pending(int max)
    {
        lock (_lock)
        {
            return _pending.Take(max).Select(r => r.Clone()).ToList();
        }
    }

    /// <summary>
    /// Writes one sample: its records, numbered from <see cref="NextSequence"/>, and the baselines after it, in one
    /// fsynced entry. Returns the records as written (with their sequences). When the write fails nothing changed:
    /// the file is cut back to where it was and the next sample measures from the old baselines.
    /// </summary>
    public IReadOnlyList<UsageRecord> Append(IReadOnlyList<UsageRecord> records, IReadOnlyDictionary<string, UsageBaseline> baselines, DateTimeOffset sampledAt)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(baselines);
        List<UsageRecord> numbered;
        lock (_lock)
        {
            var sequence = _next;
            numbered = records.Select(r =>
            {
                var copy = r.Clone();
                copy.JournalEpoch = _epoch;
                copy.Sequence = sequence++;
                return copy;
            }).ToList();
            var copyOfBaselines = new Dictionary<string, UsageBaseline>(baselines, StringComparer.Ordinal);
            Write(new JournalEntry(_epoch, _acknowledged, sequence, sampledAt, numbered, copyOfBaselines));
            _next = sequence;
            _lastSample = sampledAt;
            _baselines = copyOfBaselines;
            _pending.AddRange(numbered);
        }

        if (numbered.Count > 0)
        {
            Appended?.Invoke();
        }

        return numbered;
    }

    /// <summary>
    /// The scheduler stored every record up to <paramref name="sequence"/>: drops them by rewriting the journal
    /// without them. A sequence beyond the last one given out is taken as the last one (records numbered later are
    /// not the scheduler's yet); one at or below <see cref="AcknowledgedSequence"/> changes nothing.
    /// </summary>
    public void Acknowledge(ulong sequence)
    {
        lock (_lock)
        {
            sequence = Math.Min(sequence, _next - 1);
            if (sequence <= _acknowledged)
            {
                return;
            }

            var kept = _pending.Where(r => r.Sequence > sequence).ToList();
            var temporary = _path + ".tmp";
            try
            {
                using var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
                file.Write(new JournalEntry(_epoch, sequence, _next, _lastSample, kept, _baselines).Encode());
                file.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                File.Delete(temporary);
                throw;
            }

            _file.Dispose();
            try
            {
                File.Move(temporary, _path, overwrite: true);
                CacheFiles.SyncDirectory(_directory);
            }
            finally
            {
                _file = OpenForAppend();
            }

            _acknowledged = sequence;
            _pending.Clear();
            _pending.AddRange(kept);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file.Dispose();
        }
    }

    private void Write(JournalEntry entry)
    {
        var bytes = entry.Encode();
        var start = _file.Length;
        try
        {
            _file.Seek(start, SeekOrigin.Begin);
            _file.Write(bytes);
            _file.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // Cut back a partly written entry, so later entries are not appended behind a torn one.
            _file.SetLength(start);
            _file.Flush(flushToDisk: true);
            throw;
        }
    }

    private FileStream Load(Random? epochSource)
    {
        File.Delete(_path + ".tmp"); // a compaction that did not reach its rename: the journal itself is whole
        var created = !File.Exists(_path);
        var data = created ? [] : File.ReadAllBytes(_path);
        var offset = 0;
        while (offset < data.Length && JournalEntry.TryDecode(data.AsSpan(offset)) is var (entry, length))
        {
            Replay(entry);
            offset += length;
        }

        _file = OpenForAppend();
        if (offset < data.Length)
        {
            DiscardedBytes = data.Length - offset;
            _file.SetLength(offset);
            _file.Flush(flushToDisk: true);
        }

        if (offset == 0)
        {
            // No whole entry: nothing was ever numbered here, or what was is gone and numbering starts from 1 again.
            // Either way a new epoch, written at once, so the journal keeps it from its first open on.
            _epoch = DrawEpoch(epochSource);
            try
            {
                Write(new JournalEntry(_epoch, _acknowledged, _next, _lastSample, [], _baselines));
            }
            catch (IOException)
            {
                _file.Dispose();
                throw;
            }
        }

        if (created)
        {
            CacheFiles.SyncDirectory(_directory);
        }

        return _file;
    }

    /// <summary>
    /// A random non-zero 64-bit id: 0 means "no epoch" (a journal from before epochs). It only has to differ from the
    /// journal's earlier epochs, not to be secret: <see cref="Random.Shared"/> is seeded from the kernel's entropy and,
    /// unlike <see cref="System.Security.Cryptography.RandomNumberGenerator"/>, does not load OpenSSL (3.3 MiB resident) into the idle agent.
    /// </summary>
    private static ulong DrawEpoch(Random? source)
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        ulong epoch;
        do
        {
            (source ?? Random.Shared).NextBytes(bytes);
            epoch = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        }
        while (epoch == 0);
        return epoch;
    }

    private void Replay(JournalEntry entry)
    {
        _epoch = entry.Epoch;
        _acknowledged = Math.Max(_acknowledged, entry.AcknowledgedSequence);
        _next = Math.Max(_next, entry.NextSequence);
        _lastSample = entry.SampledAt ?? _lastSample;
        _baselines = new Dictionary<string, UsageBaseline>(entry.Baselines, StringComparer.Ordinal);
        _pending.AddRange(entry.Records);
        _pending.RemoveAll(r => r.Sequence <= _acknowledged);
    }

    private FileStream OpenForAppend() => new(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
}
