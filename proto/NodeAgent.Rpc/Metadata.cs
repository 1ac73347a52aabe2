using System.Collections;

namespace NodeAgent.Rpc;

/// <summary>
/// Custom call metadata (HTTP/2 headers that are not part of the protocol itself), e.g. <c>authorization</c>.
/// Keys are lower case; values of keys ending in <c>-bin</c> are binary and travel base64-encoded.
/// </summary>
public sealed class Metadata : IEnumerable<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _entries = [];

    public static readonly Metadata Empty = new();

    public int Count => _entries.Count;

    public void Add(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        var lower = key.ToLowerInvariant();
        if (IsReserved(lower))
        {
            throw new ArgumentException($"'{key}' is reserved by the gRPC protocol and cannot be sent as metadata", nameof(key));
        }

        _entries.Add(new(lower, value));
    }

    /// <summary>The last value sent under <paramref name="key"/>, or null.</summary>
    public string? Get(string key)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            if (string.Equals(_entries[i].Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return _entries[i].Value;
            }
        }

        return null;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Headers that belong to HTTP/2 or to the gRPC protocol, never to an application.</summary>
    internal static bool IsReserved(string lowerKey) =>
        lowerKey.Length == 0 || lowerKey[0] == ':' || lowerKey.StartsWith("grpc-", StringComparison.Ordinal) ||
        lowerKey is "content-type" or "te" or "user-agent" or "content-length" or "host" or "connection" or "transfer-encoding";
}
