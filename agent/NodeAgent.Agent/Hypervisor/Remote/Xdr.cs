using System.Buffers.Binary;
using System.Text;

namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// Writes XDR (RFC 4506), the encoding of libvirt's remote protocol: big-endian 4-byte ints, 8-byte hypers,
/// strings and opaque data as a length and bytes padded to a multiple of 4.
/// </summary>
internal sealed class XdrWriter
{
    private byte[] _buffer;

    public XdrWriter(int capacity = 256) => _buffer = new byte[capacity];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    public XdrWriter Int(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);
        return this;
    }

    public XdrWriter UInt(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);
        return this;
    }

    public XdrWriter Bool(bool value) => Int(value ? 1 : 0);

    /// <summary>A string of UTF-8 bytes; libvirt's remote_nonnull_string.</summary>
    public XdrWriter String(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Int(count);
        Encoding.UTF8.GetBytes(value, Grow(Padded(count)));
        return this;
    }

    /// <summary>An optional string (libvirt's remote_string): a presence flag, then the string when present.</summary>
    public XdrWriter OptionalString(string? value) => value is null ? Bool(false) : Bool(true).String(value);

    /// <summary>Fixed-length opaque data (a UUID): the bytes, padded, with no length.</summary>
    public XdrWriter FixedOpaque(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Grow(Padded(value.Length)));
        return this;
    }

    /// <summary>Makes room for <paramref name="count"/> bytes at the end, zeroed (so padding is zero), and returns them.</summary>
    private Span<byte> Grow(int count)
    {
        if (Length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        }

        var span = _buffer.AsSpan(Length, count);
        span.Clear();
        Length += count;
        return span;
    }

    internal static int Padded(int count) => (count + 3) & ~3;
}

/// <summary>
/// Reads XDR from one received message. A message that ends early or carries an impossible length throws
/// <see cref="FormatException"/>, which the connection treats as a broken peer.
/// </summary>
internal ref struct XdrReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool AtEnd => _position == _data.Length;

    public int Int() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public uint UInt() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public long Hyper() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public ulong UHyper() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public double Double() => BitConverter.Int64BitsToDouble(Hyper());

    public bool Bool() => Int() switch
    {
        0 => false,
        1 => true,
        var other => throw new FormatException($"XDR boolean is {other}, not 0 or 1"),
    };

    public string String()
    {
        var count = Count(1);
        var bytes = Take(XdrWriter.Padded(count));
        return Encoding.UTF8.GetString(bytes[..count]);
    }

    public string? OptionalString() => Bool() ? String() : null;

    public ReadOnlySpan<byte> FixedOpaque(int length) => Take(XdrWriter.Padded(length))[..length];

    /// <summary>The element count of a variable-length array whose elements take at least <paramref name="minimumElementSize"/> bytes each.</summary>
    public int Count(int minimumElementSize)
    {
        var count = Int();
        if (count < 0 || (long)count * minimumElementSize > _data.Length - _position)
        {
            throw new FormatException($"XDR length {count} does not fit in the {_data.Length - _position} bytes left of the message");
        }

        return count;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new FormatException($"the message ends {count - (_data.Length - _position)} bytes early");
        }

        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
