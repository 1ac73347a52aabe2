namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// Domain calls, each with the same check-then-act and "the state decides" rules as <see cref="LibvirtHypervisor"/>,
/// so both adapters are idempotent in the same way and pass the same tests.
/// </summary>
public sealed partial class RemoteHypervisor
{
    // As in LibvirtHypervisor: managed save, snapshot, checkpoint metadata and NVRAM go with the domain; drivers
    // that refuse the last two (the test driver) get the first two.
    private const uint UndefineFlags = UndefineFlagsEveryDriverTakes | LibvirtNative.UndefineCheckpointsMetadata | LibvirtNative.UndefineNvram;
    private const uint UndefineFlagsEveryDriverTakes = LibvirtNative.UndefineManagedSave | LibvirtNative.UndefineSnapshotsMetadata;

    public IReadOnlyList<DomainInfo> ListDomains()
    {
        var reader = new XdrReader(_connection.Call(RemoteProtocol.ConnectListAllDomains, new XdrWriter().Int(1).UInt(0), "virConnectListAllDomains"));
        var count = reader.Count(24);
        var domains = new List<RemoteDomain>(count);
        for (var i = 0; i < count; i++)
        {
            domains.Add(RemoteDomain.Read(ref reader));
        }

        var result = new List<DomainInfo>(count);
        foreach (var domain in domains)
        {
            // A transient domain listed a moment ago may be gone now: it is no longer on this host.
            if (Describe(domain) is { } info)
            {
                result.Add(info);
            }
        }

        return result;
    }

    public DomainInfo? FindDomain(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return TryLookup(name) is { } domain ? Describe(domain) : null;
    }

    public void Define(string xml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(xml);
        // XML that does not parse goes to libvirt unchanged, so the error is libvirt's own, with its position.
        var document = DomainXmlIdentity.TryParse(xml);
        var name = document is null ? null : DomainXmlIdentity.Name(document);
        if (document is not null && name is not null && !DomainXmlIdentity.HasUuid(document) && TryLookup(name) is { } existing)
        {
            // Without the existing UUID libvirt takes the XML for a different domain of the same name and refuses it.
            xml = DomainXmlIdentity.WithUuid(document, existing.Guid);
        }

        _connection.Call(RemoteProtocol.DomainDefineXml, new XdrWriter().String(xml), "virDomainDefineXML", name);
    }

    public void Start(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        if (IsActive(domain))
        {
            return;
        }

        // Someone else may have started it between the check and the call; drivers disagree on the code for
        // that (QEMU: operation invalid, the test driver: internal error), so the state decides.
        Act(RemoteProtocol.DomainCreate, domain, "virDomainCreate", () => IsActive(domain));
    }

    public void Shutdown(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        if (IsActive(domain))
        {
            Act(RemoteProtocol.DomainShutdown, domain, "virDomainShutdown", () => !IsActive(domain));
        }
    }

    public void Destroy(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (TryLookup(name) is not { } domain || !IsActive(domain))
        {
            return;
        }

        try
        {
            _connection.Call(RemoteProtocol.DomainDestroy, domain.Args(), "virDomainDestroy", name);
        }
        catch (LibvirtException e) when (!e.IsConnectionFailure && (e.IsNoDomain || e.IsOperationInvalid || !IsActive(domain)))
        {
            // Stopped meanwhile: done.
        }
    }

    public void Pause(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        if (StateOf(domain) != DomainState.Paused)
        {
            Act(RemoteProtocol.DomainSuspend, domain, "virDomainSuspend", () => StateOf(domain) == DomainState.Paused);
        }
    }

    public void Unpause(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        if (StateOf(domain) == DomainState.Paused)
        {
            Act(RemoteProtocol.DomainResume, domain, "virDomainResume", () => StateOf(domain) != DomainState.Paused);
        }
    }

    public void Undefine(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (TryLookup(name) is not { } domain)
        {
            return;
        }

        var error = TryUndefine(domain, UndefineFlags);
        if (error?.ErrorCode == LibvirtException.InvalidArgumentCode)
        {
            error = TryUndefine(domain, UndefineFlagsEveryDriverTakes);
        }

        // Undefining a running domain leaves it running as a transient one; QEMU refuses to undefine that
        // again ("cannot undefine transient domain"), yet its definition is gone as asked.
        if (error is null || error.IsNoDomain || (error.IsOperationInvalid && !IsPersistent(domain)))
        {
            return;
        }

        throw error;
    }

    public string GetXml(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        return new XdrReader(_connection.Call(RemoteProtocol.DomainGetXmlDesc, domain.Args().UInt(0), "virDomainGetXMLDesc", name)).String();
    }

    public string? GetMetadata(string name, string uri)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var domain = Lookup(name);
        var args = domain.Args().Int(LibvirtNative.MetadataElement).OptionalString(uri).UInt(0);
        try
        {
            return new XdrReader(_connection.Call(RemoteProtocol.DomainGetMetadata, args, "virDomainGetMetadata", name)).String();
        }
        catch (LibvirtException e) when (e.ErrorCode == LibvirtException.NoDomainMetadataCode)
        {
            return null;
        }
    }

    public void SetMetadata(string name, string uri, string prefix, string element)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(element);
        var domain = Lookup(name);
        var flags = IsActive(domain) ? LibvirtNative.AffectLive | LibvirtNative.AffectConfig : LibvirtNative.AffectConfig;
        XdrWriter Args(uint f) => domain.Args().Int(LibvirtNative.MetadataElement).OptionalString(element).OptionalString(prefix).OptionalString(uri).UInt(f);
        try
        {
            _connection.Call(RemoteProtocol.DomainSetMetadata, Args(flags), "virDomainSetMetadata", name);
        }
        catch (LibvirtException e) when (flags != LibvirtNative.AffectConfig && e.IsOperationInvalid && !IsActive(domain))
        {
            // It stopped between the check and the call; its definition is what remains to update.
            _connection.Call(RemoteProtocol.DomainSetMetadata, Args(LibvirtNative.AffectConfig), "virDomainSetMetadata", name);
        }
    }

    /// <summary>Calls <paramref name="procedure"/> on the domain; a failure counts as done when <paramref name="doneAnyway"/> says the state is what the call was for.</summary>
    private void Act(int procedure, RemoteDomain domain, string operation, Func<bool> doneAnyway)
    {
        try
        {
            _connection.Call(procedure, domain.Args(), operation, domain.Name);
        }
        catch (LibvirtException e) when (!e.IsConnectionFailure && doneAnyway())
        {
        }
    }

    private LibvirtException? TryUndefine(RemoteDomain domain, uint flags)
    {
        try
        {
            _connection.Call(RemoteProtocol.DomainUndefineFlags, domain.Args().UInt(flags), "virDomainUndefineFlags", domain.Name);
            return null;
        }
        catch (LibvirtException e) when (!e.IsConnectionFailure)
        {
            return e;
        }
    }

    private RemoteDomain Lookup(string name) =>
        RemoteDomain.ReadReply(_connection.Call(RemoteProtocol.DomainLookupByName, new XdrWriter().String(name), "virDomainLookupByName", name));

    private RemoteDomain? TryLookup(string name)
    {
        try
        {
            return Lookup(name);
        }
        catch (LibvirtException e) when (e.IsNoDomain)
        {
            return null;
        }
    }

    /// <summary>The domain's name, UUID, state and size; null when it vanished (a transient domain that stopped).</summary>
    private DomainInfo? Describe(RemoteDomain domain)
    {
        try
        {
            var state = new XdrReader(_connection.Call(RemoteProtocol.DomainGetState, domain.Args().UInt(0), "virDomainGetState", domain.Name));
            var (stateCode, reason) = (state.Int(), state.Int());
            var info = Info(domain);
            return new DomainInfo(domain.Name, domain.Guid, (DomainState)stateCode, reason, info.Vcpus, (long)info.MaxMemoryKiB * 1024);
        }
        catch (LibvirtException e) when (e.IsNoDomain)
        {
            return null;
        }
    }

    /// <summary>virDomainGetInfo: state, maximum and current memory in KiB, vCPUs, CPU time in ns.</summary>
    private (int State, ulong MaxMemoryKiB, ulong MemoryKiB, int Vcpus, ulong CpuTime) Info(RemoteDomain domain)
    {
        var reader = new XdrReader(_connection.Call(RemoteProtocol.DomainGetInfo, domain.Args(), "virDomainGetInfo", domain.Name));
        return (reader.Int(), reader.UHyper(), reader.UHyper(), reader.Int(), reader.UHyper());
    }

    private DomainState StateOf(RemoteDomain domain)
    {
        var reader = new XdrReader(_connection.Call(RemoteProtocol.DomainGetState, domain.Args().UInt(0), "virDomainGetState", domain.Name));
        return (DomainState)reader.Int();
    }

    /// <summary>Whether the domain runs (or is paused); false when it vanished meanwhile.</summary>
    private bool IsActive(RemoteDomain domain) => Flag(RemoteProtocol.DomainIsActive, domain, "virDomainIsActive");

    private bool IsPersistent(RemoteDomain domain) => Flag(RemoteProtocol.DomainIsPersistent, domain, "virDomainIsPersistent");

    private bool Flag(int procedure, RemoteDomain domain, string operation)
    {
        try
        {
            return new XdrReader(_connection.Call(procedure, domain.Args(), operation, domain.Name)).Int() == 1;
        }
        catch (LibvirtException e) when (e.IsNoDomain)
        {
            return false;
        }
    }
}
