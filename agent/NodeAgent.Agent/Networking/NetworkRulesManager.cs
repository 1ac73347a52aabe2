using System.Text.Json;
using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Processes;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// The source of truth for which workspace NICs may send what: it holds every workspace's NICs and keeps the
/// kernel's table <c>bridge nodeagent</c> equal to them, replacing the whole table atomically on each change
/// (<see cref="AntiSpoofRules"/>). Changes are serialized; a failed apply leaves both the kernel and this set
/// as they were.
/// <para>
/// What the integrator calls, and when:
/// <list type="number">
/// <item>At agent start, after the bridges are ensured and before any workspace step:
///   <see cref="RebuildAsync"/> with the NICs of every workspace whose domain exists (running or not). This
///   replaces whatever an earlier agent left; the other two calls refuse to run before it.</item>
/// <item>In a workspace's prepare-network step, before its domain is defined or started:
///   <see cref="AddOrUpdateAsync"/>. Rules match taps by name, so they can exist before libvirt makes the tap,
///   and the guest's first frame is already filtered. Repeating it with the same NICs does nothing.</item>
/// <item>In the matching clean-up step, after the domain is undefined: <see cref="RemoveAsync"/>; safe when
///   the workspace has no rules (never prepared, or removed before).</item>
/// </list>
/// </para>
/// </summary>
public sealed partial class NetworkRulesManager : IDisposable
{
    public const string ScriptFile = "anti-spoof.nft";

    private readonly NetworkCommands _commands;
    private readonly string _scriptDirectory;
    private readonly ILogger<NetworkRulesManager> _logger;
    private readonly TapGuard? _guard;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, IReadOnlyList<NicRule>> _workspaces = new(StringComparer.Ordinal);
    private bool _rebuilt;

    /// <param name="scriptDirectory">
    /// Where the script is written before <c>nft -f</c> reads it (e.g. STATE/network). The last applied one
    /// stays there as <see cref="ScriptFile"/> for operators; a rejected one as <c>anti-spoof.nft.rejected</c>.
    /// </param>
    public NetworkRulesManager(NetworkCommands commands, string scriptDirectory, ILogger<NetworkRulesManager> logger, TapGuard? guard = null)
    {
        _commands = commands;
        _guard = guard;
        _scriptDirectory = scriptDirectory;
        _logger = logger;
    }

    /// <summary>The NICs whose rules are in the kernel, by workspace id.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<NicRule>> Workspaces => Volatile.Read(ref _workspaces);

    public void Dispose() => _gate.Dispose();

    /// <summary>Replaces all rules with those for exactly these workspaces.</summary>
    public async Task RebuildAsync(IReadOnlyDictionary<string, IReadOnlyList<NicRule>> workspaces, CancellationToken cancellationToken)
    {
        var next = new Dictionary<string, IReadOnlyList<NicRule>>(StringComparer.Ordinal);
        foreach (var (id, nics) in workspaces)
        {
            CheckId(id);
            next[id] = nics.ToList();
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            await ApplyAsync(next, cancellationToken);
            _rebuilt = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Lets the workspace's NICs send from their own MAC and address (and nothing else); replaces earlier NICs of it.</summary>
    public async Task AddOrUpdateAsync(string workspaceId, IReadOnlyList<NicRule> nics, CancellationToken cancellationToken)
    {
        CheckId(workspaceId);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            RequireRebuilt(workspaceId);
            if (_workspaces.TryGetValue(workspaceId, out var current) && current.SequenceEqual(nics))
            {
                return;
            }

            foreach (var (otherId, otherNics) in _workspaces)
            {
                var clash = otherId == workspaceId ? null : otherNics.FirstOrDefault(o => nics.Any(n => n.Tap == o.Tap));
                if (clash is not null)
                {
                    throw new NetworkException($"workspace {workspaceId}: tap {clash.Tap} already carries workspace {otherId}'s NIC; every NIC needs a tap of its own");
                }
            }

            var next = new Dictionary<string, IReadOnlyList<NicRule>>(_workspaces, StringComparer.Ordinal) { [workspaceId] = nics.ToList() };
            await ApplyAsync(next, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Takes the workspace's rules and counters out; nothing to remove is fine.</summary>
    public async Task RemoveAsync(string workspaceId, CancellationToken cancellationToken)
    {
        CheckId(workspaceId);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            RequireRebuilt(workspaceId);
            if (!_workspaces.ContainsKey(workspaceId))
            {
                return;
            }

            var next = new Dictionary<string, IReadOnlyList<NicRule>>(_workspaces, StringComparer.Ordinal);
            next.Remove(workspaceId);
            await ApplyAsync(next, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Dropped frames per tap (and from unlisted taps), from the kernel's named counters; none when the table does not exist yet.</summary>
    public async Task<DropCounts> ReadDropCountsAsync(CancellationToken cancellationToken)
    {
        var result = await _commands.RunAsync("nft", ["-j", "list", "counters", "table", AntiSpoofRules.Family, AntiSpoofRules.Table], cancellationToken);
        if (result.ExitCode != 0)
        {
            if (result.StandardError.Contains("No such file or directory", StringComparison.Ordinal))
            {
                return DropCounts.None;
            }

            throw new NetworkException($"reading the anti-spoofing counters failed (nft exited with {result.ExitCode}): {result.StandardError.Trim()}");
        }

        return ParseCounters(result.StandardOutput);
    }

    /// <summary>The table as nft lists it (for operators, diagnostics and tests); empty when it does not exist.</summary>
    public async Task<string> ListTableAsync(CancellationToken cancellationToken)
    {
        var result = await _commands.RunAsync("nft", ["list", "table", AntiSpoofRules.Family, AntiSpoofRules.Table], cancellationToken);
        return result.ExitCode == 0 ? result.StandardOutput : string.Empty;
    }

    /// <summary>Parses <c>nft -j list counters</c>; the agent is native AOT, so this reads a JsonDocument, not reflection.</summary>
    internal static DropCounts ParseCounters(string json)
    {
        var counts = new Dictionary<InterfaceName, DropCount>();
        var unlisted = default(DropCount);
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("nftables", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return DropCounts.None;
        }

        foreach (var item in items.EnumerateArray())
        {
            if (!(item.TryGetProperty("counter", out var counter) &&
                counter.TryGetProperty("table", out var table) && table.GetString() == AntiSpoofRules.Table &&
                counter.TryGetProperty("family", out var family) && family.GetString() == AntiSpoofRules.Family &&
                counter.TryGetProperty("name", out var nameElement) && nameElement.GetString() is { } name &&
                counter.TryGetProperty("packets", out var packets) && counter.TryGetProperty("bytes", out var bytes)))
            {
                continue;
            }

            var count = new DropCount(packets.GetUInt64(), bytes.GetUInt64());
            if (name == AntiSpoofRules.GuardCounter)
            {
                unlisted = count;
            }
            else if (AntiSpoofRules.TapOfCounter(name) is { } tap)
            {
                counts[tap] = count;
            }
        }

        return new DropCounts(counts, unlisted);
    }

    /// <summary>Writes and applies one script; publishes the new set only when nft accepted it. Callers hold the gate.</summary>
    private async Task ApplyAsync(Dictionary<string, IReadOnlyList<NicRule>> next, CancellationToken cancellationToken)
    {
        var nics = next.Values.SelectMany(n => n).ToList();
        var carried = await ReadDropCountsAsync(cancellationToken);
        var script = AntiSpoofRules.Render(nics, carried, _guard);
        await ApplyScriptAsync(script, cancellationToken);
        Volatile.Write(ref _workspaces, next);
        LogApplied(_logger, next.Count, nics.Count);
    }

    /// <summary>Runs one script through <c>nft -f</c>: all of it takes effect, or none. Internal for the atomicity test.</summary>
    internal async Task ApplyScriptAsync(string script, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_scriptDirectory);
        var pending = Path.Combine(_scriptDirectory, ScriptFile + ".new");
        await File.WriteAllTextAsync(pending, script, cancellationToken);
        try
        {
            await _commands.RunCheckedAsync("nft", ["-f", pending], cancellationToken);
        }
        catch (CommandException e)
        {
            var rejected = Path.Combine(_scriptDirectory, ScriptFile + ".rejected");
            File.Move(pending, rejected, overwrite: true);
            throw new NetworkException($"nftables refused the anti-spoofing rules, which stay as they were; the script is in {rejected}: {e.Message}", e);
        }

        File.Move(pending, Path.Combine(_scriptDirectory, ScriptFile), overwrite: true);
    }

    private void RequireRebuilt(string workspaceId)
    {
        if (!_rebuilt)
        {
            throw new InvalidOperationException($"workspace {workspaceId}: the anti-spoofing rules were not rebuilt since the agent started; " +
                "call RebuildAsync with the existing workspaces first, or the rules of those would be lost");
        }
    }

    private static void CheckId(string workspaceId)
    {
        if (!IdSyntax.IsValid(workspaceId, out var problem))
        {
            throw new NetworkException($"workspace id {problem}");
        }
    }

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Anti-spoofing rules applied: {WorkspaceCount} workspaces, {NicCount} NICs")]
    private static partial void LogApplied(ILogger logger, int workspaceCount, int nicCount);
}
