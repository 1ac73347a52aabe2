using System.Buffers.Binary;
using System.Text;

namespace NodeAgent.Contract;

/// <summary>
/// What an OpenSSH public key in a lease may look like: one line <c>TYPE BASE64 [COMMENT]</c>, a type OpenSSH
/// knows, key data that is valid base64 and names the same type, and a comment of letters, digits and a few
/// harmless punctuation marks. No authorized_keys options (<c>command="…"</c>), no control characters, nothing
/// a shell, YAML or XML would treat specially, so a key can be written into a guest's seed as it is.
/// </summary>
public static class SshKeySyntax
{
    /// <summary>The most keys one lease may carry.</summary>
    public const int MaxKeys = 16;

    /// <summary>The longest key line, in UTF-8 bytes: an RSA-16384 key is about 2.8 KiB.</summary>
    public const int MaxLength = 8192;

    /// <summary>The punctuation a comment may contain besides letters, digits and spaces.</summary>
    public const string CommentPunctuation = "@._+-=:,/()[]#~";

    public static readonly IReadOnlyList<string> Types =
    [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// <summary>Whether <paramref name="key"/> is one acceptable public key line; when not, says what is wrong without echoing the key.</summary>
    public static bool IsValid(string? key, out string problem)
    {
        problem = string.Empty;
        if (string.IsNullOrEmpty(key))
        {
            problem = "is empty";
            return false;
        }

        if (key.Length > MaxLength || Encoding.UTF8.GetByteCount(key) > MaxLength)
        {
            problem = $"is longer than {MaxLength} bytes; a public key line is at most a few KiB";
            return false;
        }

        var control = key.IndexOfAny(['\n', '\r']);
        if (control >= 0)
        {
            problem = $"has a line break at position {control}; give one key per entry";
            return false;
        }

        for (var i = 0; i < key.Length; i++)
        {
            if (char.IsControl(key[i]) || char.GetUnicodeCategory(key[i]) is System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator)
            {
                problem = $"has the control character \\u{(int)key[i]:x4} at position {i}";
                return false;
            }
        }

        var parts = key.Split(' ', 3);
        var type = parts[0];
        if (!Types.Contains(type, StringComparer.Ordinal))
        {
            problem = type.Contains('=', StringComparison.Ordinal) || type.Contains('"', StringComparison.Ordinal)
                ? "starts with authorized_keys options; give the bare public key (TYPE BASE64 [COMMENT]), as in a .pub file"
                : $"has the type '{IdSyntax.Printable(type)}'; it must be one of {string.Join(", ", Types)}";
            return false;
        }

        if (parts.Length < 2 || parts[1].Length == 0)
        {
            problem = $"has no key data after '{type}'; the line is TYPE BASE64 [COMMENT] with single spaces";
            return false;
        }

        return KeyDataIsValid(type, parts[1], out problem) && CommentIsValid(parts.Length == 3 ? parts[2] : string.Empty, type.Length + parts[1].Length + 2, out problem);
    }

    /// <summary>OpenSSH key data is base64 of a blob that begins with the key's type as a length-prefixed string.</summary>
    private static bool KeyDataIsValid(string type, string data, out string problem)
    {
        problem = string.Empty;
        var buffer = new byte[data.Length];
        if (!data.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=') || !Convert.TryFromBase64String(data, buffer, out var length))
        {
            problem = "has key data that is not valid base64";
            return false;
        }

        var blob = buffer.AsSpan(0, length);
        var named = blob.Length < 4 ? uint.MaxValue : BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (blob.Length < 4 || named > (uint)(blob.Length - 4) || !blob.Slice(4, (int)named).SequenceEqual(Encoding.ASCII.GetBytes(type)))
        {
            problem = $"has key data that is not an OpenSSH '{type}' public key (it must start with its type); copy the whole line from the .pub file";
            return false;
        }

        return true;
    }

    private static bool CommentIsValid(string comment, int offset, out string problem)
    {
        problem = string.Empty;
        for (var i = 0; i < comment.Length; i++)
        {
            var c = comment[i];
            if (!char.IsLetterOrDigit(c) && c != ' ' && !CommentPunctuation.Contains(c, StringComparison.Ordinal))
            {
                problem = $"has '{c}' in its comment at position {offset + i}; a comment may hold letters, digits, spaces and {CommentPunctuation} — edit the text after the key data";
                return false;
            }
        }

        return true;
    }
}
