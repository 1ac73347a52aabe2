namespace NodeAgent.Contract;

/// <summary>
/// A host's stable id: 1–63 characters of lower-case letters, digits, '.', '_' and '-', starting with a
/// letter or digit. The same rule keeps ids safe in file names, log fields and libvirt names.
/// </summary>
public readonly record struct HostId
{
    private HostId(string value) => Value = value;

    public string Value { get; }

    public static bool TryParse(string? text, out HostId id, out string problem)
    {
        id = default;
        if (!IdSyntax.IsValid(text, out problem))
        {
            return false;
        }

        id = new HostId(text!);
        return true;
    }

    public static HostId Parse(string text) =>
        TryParse(text, out var id, out var problem) ? id : throw new FormatException($"host id {problem}");

    public override string ToString() => Value;
}

/// <summary>The shared syntax of NodeAgent identifiers.</summary>
public static class IdSyntax
{
    public const int MaxLength = 63;

    public static bool IsValid(string? text, out string problem)
    {
        if (string.IsNullOrEmpty(text))
        {
            problem = "is empty";
            return false;
        }

        if (text.Length > MaxLength)
        {
            problem = $"is {text.Length} characters long; at most {MaxLength} are allowed";
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var ok = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') || (i > 0 && c is '-' or '_' or '.');
            if (!ok)
            {
                problem = $"'{Printable(text)}' has '{Printable(c.ToString())}' at position {i}; use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit";
                return false;
            }
        }

        problem = string.Empty;
        return true;
    }

    /// <summary>Shows control characters as escapes, so an error message never carries them raw.</summary>
    public static string Printable(string text)
    {
        var clipped = text.Length > 80 ? text[..80] + "…" : text;
        var builder = new System.Text.StringBuilder(clipped.Length);
        foreach (var c in clipped)
        {
            if (char.IsControl(c))
            {
                builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
