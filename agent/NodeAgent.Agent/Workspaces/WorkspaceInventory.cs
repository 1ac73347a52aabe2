using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// The workspaces this host holds now: every NodeAgent domain libvirt has, running or not, except those whose
/// metadata names another host (made by another agent on the same libvirt): those count as foreign.
/// </summary>
public sealed class WorkspaceInventory(IHypervisor hypervisor, string hostId)
{
    private volatile IReadOnlyDictionary<string, DomainInfo> _held = new Dictionary<string, DomainInfo>();

    private volatile ForeignUse _foreign = new(0, 0, 0);

    public IReadOnlyDictionary<string, DomainInfo> Held => _held;

    /// <summary>Running domains NodeAgent did not create: never touched, but their vCPUs and memory are in use.</summary>
    public ForeignUse Foreign => _foreign;

    /// <summary>Reads the domains from libvirt: NodeAgent's own by workspace id, and the sum of the foreign ones.</summary>
    public IReadOnlyDictionary<string, DomainInfo> Refresh()
    {
        var held = new Dictionary<string, DomainInfo>(StringComparer.Ordinal);
        var foreign = new ForeignUse(0, 0, 0);
        foreach (var domain in hypervisor.ListDomains())
        {
            if (DomainNames.TryParse(domain.Name, out var id) && IsOurs(domain.Name))
            {
                held[id] = domain;
            }
            else if (domain.State is DomainState.Running or DomainState.Blocked or DomainState.Paused)
            {
                foreign = new ForeignUse(foreign.Domains + 1, foreign.Vcpus + domain.Vcpus, foreign.MemoryBytes + domain.MemoryBytes);
            }
        }

        _held = held;
        _foreign = foreign;
        return held;
    }

    private bool IsOurs(string domainName)
    {
        try
        {
            return WorkspaceMetadata.Parse(hypervisor.GetMetadata(domainName, WorkspaceMetadata.Namespace)) is not { Host.Length: > 0 } metadata
                || metadata.Host == hostId;
        }
        catch (LibvirtException e) when (e.IsNoDomain)
        {
            return false;
        }
    }
}

/// <summary>How many foreign domains run and what they are given.</summary>
public sealed record ForeignUse(int Domains, int Vcpus, long MemoryBytes);
