namespace NodeAgent.Contract;

/// <summary>
/// What the values of an image may look like, checked the same way by the scheduler, the agent and ws:
/// names are identifiers (<see cref="IdSyntax"/>), digests are 64 lower-case hex digits, sources are
/// absolute http, https or file URLs without credentials or control characters, and a kernel command line
/// is printable ASCII. Nothing that fails these checks reaches a file name, libvirt XML or a command line.
/// </summary>
public static class ImageSyntax
{
    public const int MaxUrlLength = 2048;
    public const int MaxKernelCommandLineLength = 1024;
    public const int MaxDescriptionLength = 512;

    /// <summary>The largest image the catalogue takes: 16 TiB.</summary>
    public const ulong MaxSizeBytes = 16UL << 40;

    public static readonly IReadOnlyList<string> Schemes = ["http", "https", "file"];

    public static bool IsValidSha256(string? text, out string problem)
    {
        if (text is not { Length: 64 } || !text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            problem = $"'{IdSyntax.Printable(text ?? string.Empty)}' is not a sha256 digest: 64 lower-case hex digits (as sha256sum prints them)";
            return false;
        }

        problem = string.Empty;
        return true;
    }

    /// <summary>An absolute http, https or file URL; on success <paramref name="uri"/> is it.</summary>
    public static bool TryParseSource(string? text, out Uri? uri, out string problem)
    {
        uri = null;
        if (string.IsNullOrEmpty(text))
        {
            problem = "is empty; give an http://, https:// or file:// URL";
            return false;
        }

        if (text.Length > MaxUrlLength)
        {
            problem = $"is {text.Length} characters long; at most {MaxUrlLength} are allowed";
            return false;
        }

        if (text.Any(c => char.IsControl(c) || c == ' '))
        {
            problem = $"'{IdSyntax.Printable(text)}' has a space or control character; percent-encode it";
            return false;
        }

        // Uri parsing removes "." and ".." segments before anything below could see them, so file:///srv/../etc/x
        // would pass as /etc/x while the catalogue shows the text that hides it: refuse them, also percent-encoded.
        var end = text.IndexOfAny(['?', '#']);
        var path = (end < 0 ? text : text[..end]).Replace("%2e", ".", StringComparison.OrdinalIgnoreCase);
        if (path.Split('/').Skip(3).Any(segment => segment is "." or ".."))
        {
            problem = $"'{IdSyntax.Printable(text)}' has a '.' or '..' path segment; give the path without it";
            return false;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || !Schemes.Contains(parsed.Scheme))
        {
            problem = $"'{IdSyntax.Printable(text)}' is not an absolute http://, https:// or file:// URL";
            return false;
        }

        if (!string.IsNullOrEmpty(parsed.UserInfo))
        {
            problem = "carries credentials (user:password@); the catalogue shows URLs to every user, so serve the image without them";
            return false;
        }

        if (parsed.IsFile && (!parsed.IsAbsoluteUri || parsed.IsUnc || !parsed.LocalPath.StartsWith('/')))
        {
            problem = $"'{IdSyntax.Printable(text)}' is not a file:///absolute/path without '..'";
            return false;
        }

        uri = parsed;
        problem = string.Empty;
        return true;
    }

    public static bool IsValidKernelCommandLine(string? text, out string problem)
    {
        text ??= string.Empty;
        if (text.Length > MaxKernelCommandLineLength)
        {
            problem = $"is {text.Length} characters long; at most {MaxKernelCommandLineLength} are allowed";
            return false;
        }

        var bad = text.IndexOfAny(['\'', '"', '<', '>', '&', '`', '\\']);
        if (text.Any(c => c is < ' ' or > '~') || bad >= 0)
        {
            problem = "may hold printable ASCII only, without quotes, '<', '>', '&', '`' or '\\'";
            return false;
        }

        problem = string.Empty;
        return true;
    }

    public static bool IsValidDescription(string? text, out string problem)
    {
        text ??= string.Empty;
        if (text.Length > MaxDescriptionLength || text.Any(char.IsControl))
        {
            problem = $"must be at most {MaxDescriptionLength} characters without control characters";
            return false;
        }

        problem = string.Empty;
        return true;
    }
}
