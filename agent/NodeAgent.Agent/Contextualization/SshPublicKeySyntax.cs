using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace NodeAgent.Agent.Contextualization;

/// <summary>
/// The OpenSSH public keys a seed accepts: one line <c>TYPE BASE64 [COMMENT]</c> of a key type OpenSSH
/// authorizes by default, whose base64 blob decodes and names that same type. No authorized_keys options
/// (<c>command="…"</c>, <c>from=…</c>): a user gives keys, not policy. No control or line-breaking characters
/// anywhere, so a key stays one line in every file it is written to.
/// </summary>
public static class SshPublicKeySyntax
{
    private static readonly string[] Types =
    [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// <summary>Checks <paramref name="text"/>; the normalized key has single spaces between its parts and none around.</summary>
    public static bool TryNormalize(string? text, int maxLength, out string key, out string problem)
    {
        key = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            problem = "is empty";
            return false;
        }

        if (text.Length > maxLength)
        {
            problem = $"is {text.Length} characters long; at most {maxLength} are allowed";
            return false;
        }

        if (FirstForbidden(text) is { } bad)
        {
            problem = $"has the character U+{bad:X4} at position {text.IndexOf((char)bad, StringComparison.Ordinal)}; a key is one line of printable text";
            return false;
        }

        var parts = text.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var type = parts[0];
        if (!Types.Contains(type, StringComparer.Ordinal))
        {
            problem = $"type '{Contract.IdSyntax.Printable(type)}' is not one of {string.Join(", ", Types)} (a key is TYPE BASE64 [COMMENT], without options)";
            return false;
        }

        if (parts.Length < 2)
        {
            problem = $"has the type {type} but no key after it";
            return false;
        }

        if (!BlobNamesType(parts[1], type))
        {
            problem = $"the {type} key's base64 part does not decode to a {type} key; copy the whole line of the .pub file";
            return false;
        }

        key = parts.Length == 3 ? $"{type} {parts[1]} {parts[2]}" : $"{type} {parts[1]}";
        problem = string.Empty;
        return true;
    }

    /// <summary>A control character, a Unicode line or paragraph separator, or half a surrogate pair; null when none.</summary>
    private static int? FirstForbidden(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (char.IsControl(c) || char.IsSurrogate(c) || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>An OpenSSH key blob starts with its type as an SSH string: a big-endian length, then the name.</summary>
    private static bool BlobNamesType(string base64, string type)
    {
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length) || length < 4)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        return nameLength == type.Length && length >= 4 + type.Length + 4 &&
            Encoding.ASCII.GetString(bytes, 4, type.Length) == type;
    }
}
