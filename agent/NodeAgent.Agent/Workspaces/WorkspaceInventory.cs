using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Agent.Workspaces;

/// <summary>The workspaces this host holds now: every NodeAgent domain libvirt has, running or not.</summary>
public sealed class WorkspaceInventory(IHypervisor hypervisor)
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
            if (DomainNames.TryParse(domain.Name, out var id))
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
}

/// <summary>How many foreign domains run and what they are given.</summary>
public sealed record ForeignUse(int Domains, int Vcpus, long MemoryBytes);
