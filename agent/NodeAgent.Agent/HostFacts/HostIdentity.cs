using NodeAgent.Contract;

namespace NodeAgent.Agent.HostFacts;

/// <summary>
/// The host's id, stable across agent restarts: made once from the host name and kept in the state
/// directory, so renaming the machine does not turn it into a new host with orphaned workspaces.
/// </summary>
public static class HostIdentity
{
    public const string FileName = "host-id";

    public static HostId LoadOrCreate(string stateDirectory, string? configured, string hostname)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (configured is not null)
        {
            return HostId.Parse(configured);
        }

        if (File.Exists(path))
        {
            var stored = File.ReadAllText(path).Trim();
            return HostId.TryParse(stored, out var id, out var problem)
                ? id
                : throw new InvalidDataException($"{path} holds an invalid host id: {problem}; fix the file or remove it to derive a new id from the host name");
        }

        var created = HostId.Parse(FromHostname(hostname));
        Directory.CreateDirectory(stateDirectory);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, created.Value + "\n");
        File.Move(temporary, path, overwrite: true);
        return created;
    }

    /// <summary>Lower-cases the host name and replaces what ids may not hold; never empty.</summary>
    public static string FromHostname(string hostname)
    {
        var chars = hostname.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.' or '_' ? c : '-').ToArray();
        var text = new string(chars).TrimStart('-', '.', '_');
        if (text.Length > IdSyntax.MaxLength)
        {
            text = text[..IdSyntax.MaxLength];
        }

        return text.Length == 0 ? "host" : text;
    }
}
