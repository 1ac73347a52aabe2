using NodeAgent.Agent.HostFacts;

namespace NodeAgent.Agent.Workspaces;

/// <summary>The host cannot take a workspace: it does not fit; the message says what is short. Nothing of the workspace was made.</summary>
public sealed class WorkspaceRefusedException(string message) : Exception(message);

/// <summary>
/// The agent's own check before it makes a workspace: the vCPUs and memory the host offers (after its reservation and
/// overcommit, as reported to the scheduler) less what its other workspaces and the domains NodeAgent did not make
/// hold, read from libvirt now. The scheduler's view can be behind (a foreign domain started since the last
/// heartbeat, an agent restarted with a larger reservation); a refusal sends the workspace elsewhere instead of
/// overcommitting the host.
/// </summary>
/// <param name="capacity">The capacity policy in force, asked at each check (a reload may change it).</param>
public sealed class WorkspaceFit(HostDescription host, Func<CapacityPolicy> capacity, WorkspaceInventory inventory)
{
    /// <summary>A fit check against a fixed capacity policy.</summary>
    public WorkspaceFit(HostDescription host, CapacityPolicy capacity, WorkspaceInventory inventory)
        : this(host, () => capacity, inventory)
    {
    }

    /// <summary>Null when the workspace fits; otherwise what is short, e.g. "4 vCPUs asked, 2 of 8 left (…)".</summary>
    public string? Refusal(Workspace wanted)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        var offer = capacity().Offer(new HostSize(host.Vcpus, host.MemoryBytes));
        var others = inventory.Refresh().Where(d => d.Key != wanted.Id).Select(d => d.Value).ToList();
        var foreign = inventory.Foreign;
        var (heldVcpus, heldMemory) = (others.Sum(d => d.Vcpus), others.Sum(d => d.MemoryBytes));
        var vcpusLeft = offer.Vcpus - heldVcpus - foreign.Vcpus;
        var memoryLeft = offer.MemoryBytes - heldMemory - foreign.MemoryBytes;
        var held = $"{others.Count} workspaces hold {heldVcpus} vCPUs and {Mib(heldMemory)}, {foreign.Domains} domains NodeAgent did not make {foreign.Vcpus} and {Mib(foreign.MemoryBytes)}";
        var problems = new List<string>();
        if (wanted.Vcpus > vcpusLeft)
        {
            problems.Add($"{wanted.Vcpus} vCPUs asked, {Math.Max(vcpusLeft, 0)} of {offer.Vcpus} left");
        }

        if (wanted.MemoryBytes > memoryLeft)
        {
            problems.Add($"{Mib(wanted.MemoryBytes)} of memory asked, {Mib(Math.Max(memoryLeft, 0))} of {Mib(offer.MemoryBytes)} left");
        }

        return problems.Count == 0 ? null : $"host {host.Id} cannot take it: {string.Join("; ", problems)} ({held})";
    }

    private static string Mib(long bytes) => $"{bytes >> 20} MiB";
}
