namespace NodeAgent.Agent.Hypervisor;

/// <summary>Pausing and resuming domains, and the metadata element NodeAgent keeps in each of its domains.</summary>
public sealed partial class LibvirtHypervisor
{
    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist, and operation-invalid when it does not run.</remarks>
    public void Pause(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        if (StateOf(domain, name) == DomainState.Paused || LibvirtNative.virDomainSuspend(domain) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainSuspend), name);
        if (StateOf(domain, name) == DomainState.Paused)
        {
            return;
        }

        throw error;
    }

    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist.</remarks>
    public void Unpause(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        if (StateOf(domain, name) != DomainState.Paused || LibvirtNative.virDomainResume(domain) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainResume), name);
        if (StateOf(domain, name) != DomainState.Paused)
        {
            return;
        }

        throw error;
    }

    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist.</remarks>
    public string? GetMetadata(string name, string uri)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        var element = LibvirtNative.TakeString(LibvirtNative.virDomainGetMetadata(domain, LibvirtNative.MetadataElement, uri, 0));
        if (element is not null)
        {
            return element;
        }

        var error = Failed(nameof(LibvirtNative.virDomainGetMetadata), name);
        return error.ErrorCode == LibvirtException.NoDomainMetadataCode ? null : throw error;
    }

    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist.</remarks>
    public void SetMetadata(string name, string uri, string prefix, string element)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(element);
        using var domain = Lookup(name);
        var flags = IsActive(domain, name) ? LibvirtNative.AffectLive | LibvirtNative.AffectConfig : LibvirtNative.AffectConfig;
        if (LibvirtNative.virDomainSetMetadata(domain, LibvirtNative.MetadataElement, element, prefix, uri, flags) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainSetMetadata), name);
        // The domain may have stopped between the check and the call; its definition is what remains to update.
        if (flags != LibvirtNative.AffectConfig && error.IsOperationInvalid && !IsActive(domain, name) &&
            LibvirtNative.virDomainSetMetadata(domain, LibvirtNative.MetadataElement, element, prefix, uri, LibvirtNative.AffectConfig) == 0)
        {
            return;
        }

        throw error;
    }

    private DomainState StateOf(DomainHandle domain, string name)
    {
        if (LibvirtNative.virDomainGetState(domain, out var state, out _, 0) == 0)
        {
            return (DomainState)state;
        }

        throw Failed(nameof(LibvirtNative.virDomainGetState), name);
    }
}
