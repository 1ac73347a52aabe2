using NodeAgent.Rpc;

namespace NodeAgent.Agent;

/// <summary>
/// The agent's API token, read from its token-file (an agent token an admin made for this host with
/// <c>ws admin token create --host ID</c>). The file is read again whenever it changes, so a token put in place or
/// replaced while the agent runs is used from the next call. No file: calls carry no token, which only a scheduler run
/// with <c>--auth none</c> accepts.
/// </summary>
public sealed class AgentTokenFile(string path)
{
    private readonly Lock _lock = new();
    private DateTime _readAt = DateTime.MinValue;
    private long _length = -1;
    private Metadata? _headers;

    public string Path { get; } = path;

    /// <summary>The authorization header to send, or null when there is no token (yet).</summary>
    public Metadata? Headers()
    {
        var file = new FileInfo(Path);
        lock (_lock)
        {
            if (!file.Exists)
            {
                _headers = null;
                _length = -1;
                return null;
            }

            if (file.LastWriteTimeUtc != _readAt || file.Length != _length)
            {
                _readAt = file.LastWriteTimeUtc;
                _length = file.Length;
                _headers = Read();
            }

            return _headers;
        }
    }

    private Metadata? Read()
    {
        try
        {
            var token = File.ReadAllText(Path).Trim();
            if (token.Length > 0 && token.All(c => c is > ' ' and <= '~'))
            {
                return new Metadata { { "authorization", "Bearer " + token } };
            }

            Console.Error.WriteLine($"nodeagent: the token file {Path} holds no token (it should be the one line `ws admin token create --host ID` printed); calls go without one");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"nodeagent: cannot read the token file {Path}: {e.Message}; calls go without a token");
            return null;
        }
    }
}
