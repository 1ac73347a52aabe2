using NodeAgent.Contract;

namespace NodeAgent.Cli;

/// <summary>
/// The SSH public keys ws sends with a lease: the lines of each <c>--ssh-key</c> file, or, when none is given,
/// of every <c>~/.ssh/id_*.pub</c> that exists. Every key is checked here, before the scheduler is asked, with
/// the rules the scheduler applies.
/// </summary>
public static class SshKeyFiles
{
    /// <summary>A public key file is a few KiB; anything much larger is the wrong file.</summary>
    public const long MaxFileBytes = 256 * 1024;

    /// <summary>Reads the keys to send; <paramref name="notes"/> gets a line when no key is found by default.</summary>
    /// <exception cref="UsageException">A file cannot be read or holds something that is not a public key; the message names the file and line.</exception>
    public static IReadOnlyList<string> Read(IReadOnlyList<string> files, Func<string, string?> environment, TextWriter notes)
    {
        var given = files.Count > 0;
        var paths = given ? files : DefaultFiles(environment);
        if (paths.Count == 0)
        {
            notes.WriteLine("ws: no SSH public key found (~/.ssh/id_*.pub), so the workspace authorizes none and ssh cannot log in; " +
                            "create one with `ssh-keygen -t ed25519` or pass --ssh-key FILE");
            return [];
        }

        var keys = new List<string>();
        foreach (var path in paths)
        {
            var origin = given ? $"--ssh-key {path}" : $"{path} (found in ~/.ssh; pass --ssh-key FILE to choose other keys)";
            foreach (var key in KeysIn(path, origin))
            {
                if (!keys.Contains(key, StringComparer.Ordinal))
                {
                    keys.Add(key);
                }
            }
        }

        if (keys.Count > SshKeySyntax.MaxKeys)
        {
            throw new UsageException($"{keys.Count} SSH keys found in {string.Join(", ", paths)}; a lease takes at most {SshKeySyntax.MaxKeys}; pass fewer with --ssh-key FILE");
        }

        return keys;
    }

    /// <summary>Every ~/.ssh/id_*.pub, in name order.</summary>
    public static IReadOnlyList<string> DefaultFiles(Func<string, string?> environment)
    {
        var home = environment("HOME");
        var directory = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".ssh");
        return directory is null || !Directory.Exists(directory)
            ? []
            : Directory.GetFiles(directory, "id_*.pub").Order(StringComparer.Ordinal).ToList();
    }

    private static List<string> KeysIn(string path, string origin)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxFileBytes)
            {
                throw new UsageException($"{origin}: {info.Length} bytes is too large for a public key file; give the .pub file");
            }

            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{origin}: cannot read it: {e.Message}");
        }

        if (text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new UsageException($"{origin}: this is a private key, which must never leave your machine; give the public key ({Path.GetFileName(path)}.pub) instead");
        }

        var keys = new List<string>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r', ' ', '\t');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (!SshKeySyntax.IsValid(line, out var problem))
            {
                throw new UsageException($"{origin}: line {i + 1} {problem}");
            }

            keys.Add(line);
        }

        return keys.Count > 0 ? keys : throw new UsageException($"{origin}: holds no public key; a public key line looks like 'ssh-ed25519 AAAA… you@host'");
    }
}
