using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// The workspaces' side of the host's networks: which bridge each NIC goes on, and the anti-spoofing rules
/// that let it send only from its own MAC and address. On a host without configured networks it does
/// nothing and needs neither bridges nor nftables; a workspace asking for a network is then refused.
/// </summary>
public sealed class WorkspaceNetworks(IReadOnlyList<NetworkDefinition> networks, BridgeManager bridges, NetworkRulesManager rules) : IDisposable
{
    private readonly SemaphoreSlim _rebuild = new(1);
    private volatile bool _rebuilt;

    public IReadOnlyList<NetworkDefinition> Networks => networks;

    public void Dispose() => _rebuild.Dispose();

    /// <summary>Creates the configured bridges that are missing (at agent start).</summary>
    public async Task EnsureBridgesAsync(CancellationToken cancellationToken)
    {
        if (networks.Count > 0)
        {
            await bridges.EnsureAllAsync(networks, cancellationToken);
        }
    }

    /// <summary>
    /// Once per agent start, before any workspace step: replaces NodeAgent's rule table with the rules of the
    /// workspaces that exist and are wanted, so a restarted agent neither loses running guests' rules nor
    /// keeps those of workspaces gone meanwhile.
    /// </summary>
    public async Task RebuildOnceAsync(IEnumerable<Workspace> running, CancellationToken cancellationToken)
    {
        if (_rebuilt || networks.Count == 0)
        {
            return;
        }

        await _rebuild.WaitAsync(cancellationToken);
        try
        {
            if (!_rebuilt)
            {
                var all = running.Where(w => w.Guest is { Nics.Count: > 0 }).ToDictionary(w => w.Id, RulesFor, StringComparer.Ordinal);
                await rules.RebuildAsync(all, cancellationToken);
                _rebuilt = true;
            }
        }
        finally
        {
            _rebuild.Release();
        }
    }

    /// <summary>The workspace's NICs for its domain, each on its network's bridge.</summary>
    /// <exception cref="WorkspaceException">A NIC asks for a network this host does not have.</exception>
    public IReadOnlyList<DomainNic> DomainNicsFor(Workspace workspace) =>
        [.. (workspace.Guest?.Nics ?? []).Select(nic => new DomainNic(nic.Mac, BridgeOf(nic.Network).Value))];

    public async Task AllowAsync(Workspace workspace, CancellationToken cancellationToken)
    {
        if (workspace.Guest is { Nics.Count: > 0 })
        {
            await rules.AddOrUpdateAsync(workspace.Id, RulesFor(workspace), cancellationToken);
        }
    }

    public async Task RemoveAsync(string workspaceId, CancellationToken cancellationToken)
    {
        if (networks.Count > 0)
        {
            await rules.RemoveAsync(workspaceId, cancellationToken);
        }
    }

    private IReadOnlyList<NicRule> RulesFor(Workspace workspace) =>
        [.. (workspace.Guest?.Nics ?? []).Select((nic, i) => NicRule.Parse(workspace.Id, InterfaceName.Parse(TapNames.For(workspace.Id, i)), nic.Mac, nic.Address.ToString()))];

    private InterfaceName BridgeOf(string network) =>
        networks.FirstOrDefault(n => n.Name.Value == network)?.Bridge ?? throw new WorkspaceException(
            networks.Count == 0
                ? $"this host has no networks, so it cannot attach a NIC to network {network}; start the agent with --network {network}=BRIDGE"
                : $"this host has no network {network} (it has {string.Join(", ", networks.Select(n => n.Name.Value))}); add --network {network}=BRIDGE to the agent");
}

/// <summary>
/// The workspace's NICs: puts each on its network's bridge in the domain and lets it send only from its own
/// MAC and address, from before the domain starts until after it is gone.
/// </summary>
public sealed class NetworkHook(WorkspaceNetworks networks) : IWorkspaceHook
{
    public string Name => "network";

    public async Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Nics = networks.DomainNicsFor(context.Workspace);
        await networks.AllowAsync(context.Workspace, cancellationToken);
    }

    public Task CleanupAsync(string workspaceId, CancellationToken cancellationToken) => networks.RemoveAsync(workspaceId, cancellationToken);
}

/// <summary>Creates the configured bridges when the agent starts; a bridge that cannot be made stops the start with the reason.</summary>
public sealed class NetworkSetup(WorkspaceNetworks networks) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => networks.EnsureBridgesAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
