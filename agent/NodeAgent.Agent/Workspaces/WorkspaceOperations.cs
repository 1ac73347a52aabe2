using System.Collections.Concurrent;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Which workspaces the agent itself is changing right now, or has given up on at a desired-set version.
/// libvirt reports the agent's own actions as events too; those must not be mistaken for things that
/// happened to a guest from outside.
/// </summary>
public sealed class WorkspaceOperations
{
    private readonly ConcurrentDictionary<string, bool> _busy = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ulong> _failedAt = new(StringComparer.Ordinal);

    /// <summary>Marks the workspace busy until the returned scope is disposed.</summary>
    public IDisposable Begin(string workspaceId)
    {
        _busy[workspaceId] = true;
        return new Scope(this, workspaceId);
    }

    public void MarkFailed(string workspaceId, ulong version) => _failedAt[workspaceId] = version;

    public void ClearFailure(string workspaceId) => _failedAt.TryRemove(workspaceId, out _);

    /// <summary>True when creating it failed at this very desired-set version: not retried until the set changes.</summary>
    public bool FailedAt(string workspaceId, ulong version) => _failedAt.TryGetValue(workspaceId, out var failed) && failed == version;

    public bool IsOwnAction(string workspaceId) => _busy.ContainsKey(workspaceId) || _failedAt.ContainsKey(workspaceId);

    private sealed class Scope(WorkspaceOperations owner, string workspaceId) : IDisposable
    {
        public void Dispose() => owner._busy.TryRemove(workspaceId, out _);
    }
}
