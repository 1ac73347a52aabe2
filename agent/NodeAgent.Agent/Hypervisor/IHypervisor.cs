namespace NodeAgent.Agent.Hypervisor;

/// <summary>What the agent knows of one libvirt domain at the moment it asked.</summary>
/// <summary>
/// A domain as libvirt reports it. <see cref="Reason"/> is libvirt's reason code for the state (for shut off:
/// 0 never ran, 1 shut down, 2 destroyed, 3 crashed, …); vCPUs and memory are what the domain is given.
/// </summary>
public sealed record DomainInfo(string Name, Guid Uuid, DomainState State, int Reason = 0, int Vcpus = 0, long MemoryBytes = 0)
{
    /// <summary>Shut off after having run: the guest powered off, crashed, or was destroyed from outside.</summary>
    public bool StoppedAfterRunning => State == DomainState.Shutoff && Reason != 0;
}

/// <summary>The source of truth for the domains on this host: what libvirt has defined, running or not.</summary>
public interface IHypervisor : IDisposable
{
    /// <summary>The connection URI, e.g. qemu:///system or test:///default.</summary>
    string Uri { get; }

    /// <summary>The domain type to define guests with, chosen from the host's capabilities: "kvm" when hardware virtualization is usable, else "qemu" (software emulation); "test" on libvirt's test driver.</summary>
    string DomainType { get; }

    /// <summary>The guest architecture (e.g. x86_64), from capabilities: the host's own.</summary>
    string Architecture { get; }

    /// <summary>Why libvirt cannot be used right now (the host is degraded), or null when it can.</summary>
    string? Unavailable { get; }

    IReadOnlyList<DomainInfo> ListDomains();

    DomainInfo? FindDomain(string name);

    /// <summary>Defines (or redefines: keeps the existing UUID) a persistent domain from XML.</summary>
    void Define(string xml);

    /// <summary>Starts a defined domain; no-op when it already runs.</summary>
    void Start(string name);

    /// <summary>Asks the guest to shut down (ACPI); returns at once. No-op when it is not running.</summary>
    void Shutdown(string name);

    /// <summary>Stops the domain at once (power off); no-op when it is not running or does not exist.</summary>
    void Destroy(string name);

    /// <summary>Suspends the domain's vCPUs (memory is kept); no-op when it is paused already.</summary>
    void Pause(string name);

    /// <summary>Resumes a paused domain; no-op when it is not paused.</summary>
    void Unpause(string name);

    /// <summary>The domain's metadata element in namespace <paramref name="uri"/> (of the running domain when it runs), or null when it has none.</summary>
    string? GetMetadata(string name, string uri);

    /// <summary>
    /// Replaces the domain's metadata element in namespace <paramref name="uri"/>, in its persistent definition
    /// and, while it runs, in the running domain too: both always say the same.
    /// </summary>
    void SetMetadata(string name, string uri, string prefix, string element);

    /// <summary>Removes the domain's definition (with managed save and snapshot metadata); no-op when it does not exist.</summary>
    void Undefine(string name);

    string GetXml(string name);

    /// <summary>Statistics of the domains whose names start with <paramref name="namePrefix"/>, from one bulk libvirt call.</summary>
    IReadOnlyList<DomainStats> GetAllDomainStats(string namePrefix);

    /// <summary>
    /// Calls <paramref name="handler"/> for every lifecycle event of every domain (defined, started, stopped,
    /// crashed, …), on libvirt's event thread: the handler must return quickly. Dispose to stop.
    /// </summary>
    IDisposable WatchLifecycle(Action<DomainEvent> handler);
}
