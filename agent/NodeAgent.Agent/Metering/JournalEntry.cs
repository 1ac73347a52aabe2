using System.Buffers.Binary;
using Google.Protobuf;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// One entry of the usage journal: the records a sample produced together with the baselines after that sample,
/// so a record and the baseline it advanced to are written (and lost) together. A compaction writes one entry holding
/// the acknowledged sequence and every record after it. <see cref="NextSequence"/> is the sequence the next record gets.
/// <see cref="Epoch"/> is the journal's epoch, the same in every entry of one journal (0 in format-1 entries, written
/// before epochs existed).
/// </summary>
internal sealed record JournalEntry(
    ulong Epoch,
    ulong AcknowledgedSequence,
    ulong NextSequence,
    DateTimeOffset? SampledAt,
    IReadOnlyList<UsageRecord> Records,
    IReadOnlyDictionary<string, UsageBaseline> Baselines)
{
    /// <summary>The format written: 2 adds the epoch after the format byte. Format 1 (no epoch) is still read, as epoch 0.</summary>
    internal const byte Format = 2;

    private const byte FormatWithoutEpoch = 1;

    /// <summary>The largest entry read back; a length above it is a torn or corrupt header, not an entry.</summary>
    public const int MaxPayload = 256 << 20;

    /// <summary>Framed for the file: payload length (u32 LE), CRC-32 of the payload (u32 LE), payload.</summary>
    public byte[] Encode()
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Format);
            w.Write(Epoch);
            w.Write(AcknowledgedSequence);
            w.Write(NextSequence);
            w.Write(SampledAt is { } at ? at.UtcTicks : -1L);
            w.Write(Records.Count);
            foreach (var record in Records)
            {
                var bytes = record.ToByteArray();
                w.Write(bytes.Length);
                w.Write(bytes);
            }

            w.Write(Baselines.Count);
            foreach (var (id, b) in Baselines)
            {
                w.Write(id);
                w.Write(b.SampledAt.UtcTicks);
                w.Write(b.PoweredOn);
                w.Write(b.Pid);
                var c = b.Counters;
                w.Write(c.CpuSeconds);
                w.Write(c.VcpuSeconds);
                foreach (var value in new[] { c.NetRxBytes, c.NetTxBytes, c.NetRxPackets, c.NetTxPackets, c.DiskReadBytes, c.DiskWriteBytes, c.DiskReadOps, c.DiskWriteOps })
                {
                    w.Write(value);
                }
            }
        }

        var body = payload.ToArray();
        var framed = new byte[8 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(framed, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(framed.AsSpan(4), Crc32.Compute(body));
        body.CopyTo(framed, 8);
        return framed;
    }

    /// <summary>
    /// The entry framed at the start of <paramref name="data"/> and its framed length, or null when what is there is not
    /// a whole entry with a matching CRC (a tail torn by a crash).
    /// </summary>
    public static (JournalEntry Entry, int Length)? TryDecode(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(data);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (length > MaxPayload || length > data.Length - 8 || Crc32.Compute(data.Slice(8, (int)length)) != crc)
        {
            return null;
        }

        try
        {
            return (Decode(data.Slice(8, (int)length).ToArray()), 8 + (int)length);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidProtocolBufferException or IOException or ArgumentException)
        {
            return null;
        }
    }

    private static JournalEntry Decode(byte[] payload)
    {
        using var r = new BinaryReader(new MemoryStream(payload), System.Text.Encoding.UTF8);
        var epoch = r.ReadByte() switch
        {
            Format => r.ReadUInt64(),
            FormatWithoutEpoch => 0UL,
            _ => throw new IOException("unknown usage journal entry format"),
        };
        var acknowledged = r.ReadUInt64();
        var next = r.ReadUInt64();
        var sampledTicks = r.ReadInt64();
        var records = new UsageRecord[r.ReadInt32()];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = UsageRecord.Parser.ParseFrom(r.ReadBytes(r.ReadInt32()));
        }

        var count = r.ReadInt32();
        var baselines = new Dictionary<string, UsageBaseline>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var id = r.ReadString();
            var at = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
            var poweredOn = r.ReadBoolean();
            var pid = r.ReadInt32();
            var counters = new UsageCounters(r.ReadDouble(), r.ReadDouble(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(),
                r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64());
            baselines[id] = new UsageBaseline(at, poweredOn, pid, counters);
        }

        if (r.BaseStream.Position != payload.Length)
        {
            throw new IOException("trailing bytes in usage journal entry");
        }

        return new JournalEntry(epoch, acknowledged, next, sampledTicks < 0 ? null : new DateTimeOffset(sampledTicks, TimeSpan.Zero), records, baselines);
    }
}

/// <summary>CRC-32 (IEEE 802.3, the polynomial of zlib and gzip).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
