using System.Runtime.InteropServices;
using System.Text;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// <see cref="IHypervisor"/> over one libvirt connection, through libvirt's C API. Owns the connection; every
/// domain reference and every string libvirt hands out is released before a method returns, also when it
/// throws. Safe to call from several threads at once: libvirt connections are, and each method reads
/// libvirt's thread-local error on its own thread right after the call that failed.
/// </summary>
public sealed partial class LibvirtHypervisor : ILibvirtConnection
{
    // A workspace's domain goes with its managed-save image, snapshot and checkpoint metadata and UEFI
    // variables: libvirt refuses to undefine a domain that still has any of them unless told to remove them.
    private const uint UndefineFlags = UndefineFlagsEveryDriverTakes | LibvirtNative.UndefineCheckpointsMetadata | LibvirtNative.UndefineNvram;

    // The QEMU driver takes all of the above; others (the test driver) refuse checkpoint and NVRAM flags.
    private const uint UndefineFlagsEveryDriverTakes = LibvirtNative.UndefineManagedSave | LibvirtNative.UndefineSnapshotsMetadata;

    private readonly ConnectionHandle _connection;
    private readonly GuestCapabilities _guest;

    private LibvirtHypervisor(ConnectionHandle connection, string uri, GuestCapabilities guest)
    {
        _connection = connection;
        _guest = guest;
        Uri = uri;
    }

    public string Uri { get; }

    public string DomainType => _guest.DomainType;

    public string Architecture => _guest.Architecture;

    public string MachineType => _guest.MachineType;

    public string DomainTypeReason { get; private init; } = string.Empty;

    /// <summary>Connects to libvirt at <paramref name="uri"/> and reads the host's capabilities.</summary>
    /// <exception cref="LibvirtException">The connection failed (the message names the URI and what to check), or the host offers no guest for its architecture.</exception>
    public static LibvirtHypervisor Open(string uri, DomainTypePreference preference = DomainTypePreference.Auto)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        LibvirtNative.SilenceDefaultErrorPrinting();
        LibvirtEvents.EnsureLoop();
        var connection = LibvirtNative.virConnectOpen(uri);
        if (connection.IsInvalid)
        {
            var error = LibvirtException.FromLastError(nameof(LibvirtNative.virConnectOpen), null, uri);
            connection.Dispose();
            throw error;
        }

        try
        {
            // The URI libvirt resolved, so logs and errors name the connection actually used.
            var resolved = LibvirtNative.TakeString(LibvirtNative.virConnectGetURI(connection));
            if (resolved is null)
            {
                LibvirtNative.virResetLastError();
            }

            var capabilities = LibvirtNative.TakeString(LibvirtNative.virConnectGetCapabilities(connection))
                ?? throw LibvirtException.FromLastError(nameof(LibvirtNative.virConnectGetCapabilities), null, uri);
            var (guest, reason) = GuestChoice.Make(capabilities, arch => IsKvmUsable(connection, arch), preference, uri);
            return new LibvirtHypervisor(connection, resolved ?? uri, guest) { DomainTypeReason = reason };
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IReadOnlyList<DomainInfo> ListDomains()
    {
        var count = LibvirtNative.virConnectListAllDomains(_connection, out var array, 0);
        if (count < 0)
        {
            throw Failed(nameof(LibvirtNative.virConnectListAllDomains), null);
        }

        var domains = new DomainHandle[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                domains[i] = DomainHandle.Adopt(Marshal.ReadIntPtr(array, i * IntPtr.Size));
            }
        }
        finally
        {
            LibvirtNative.Free(array);
        }

        try
        {
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
        finally
        {
            foreach (var domain in domains)
            {
                domain.Dispose();
            }
        }
    }

    public DomainInfo? FindDomain(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = TryLookup(name);
        return domain is null ? null : Describe(domain);
    }

    public void Define(string xml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(xml);
        // XML that does not parse goes to libvirt unchanged, so the error is libvirt's own, with its position.
        var document = DomainXmlIdentity.TryParse(xml);
        var name = document is null ? null : DomainXmlIdentity.Name(document);
        if (document is not null && name is not null && !DomainXmlIdentity.HasUuid(document))
        {
            // Without the existing UUID libvirt takes the XML for a different domain of the same name and refuses it.
            using var existing = TryLookup(name);
            if (existing is not null)
            {
                xml = DomainXmlIdentity.WithUuid(document, UuidOf(existing, name));
            }
        }

        using var defined = LibvirtNative.virDomainDefineXML(_connection, xml);
        if (defined.IsInvalid)
        {
            throw Failed(nameof(LibvirtNative.virDomainDefineXML), name);
        }
    }

    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist. A paused domain counts as running.</remarks>
    public void Start(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        if (IsActive(domain, name))
        {
            return;
        }

        if (LibvirtNative.virDomainCreate(domain) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainCreate), name);
        // Someone else may have started it between the check and the call. Drivers disagree on the code for
        // that (QEMU: operation invalid, the test driver: internal error), so the state decides.
        if (IsActive(domain, name))
        {
            return;
        }

        throw error;
    }

    /// <remarks>Throws <see cref="LibvirtException.IsNoDomain"/> when the domain does not exist.</remarks>
    public void Shutdown(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        if (!IsActive(domain, name))
        {
            return;
        }

        if (LibvirtNative.virDomainShutdown(domain) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainShutdown), name);
        // It may have stopped between the check and the call; as in Start, the state decides.
        if (!IsActive(domain, name))
        {
            return;
        }

        throw error;
    }

    public void Destroy(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = TryLookup(name);
        if (domain is null || !IsActive(domain, name))
        {
            return;
        }

        if (LibvirtNative.virDomainDestroy(domain) == 0)
        {
            return;
        }

        var error = Failed(nameof(LibvirtNative.virDomainDestroy), name);
        if (error.IsNoDomain || error.IsOperationInvalid || !IsActive(domain, name))
        {
            return;
        }

        throw error;
    }

    /// <remarks>A running domain keeps running, as a transient one, until destroyed: destroy it first to remove it.</remarks>
    public void Undefine(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = TryLookup(name);
        if (domain is null)
        {
            return;
        }

        var error = TryUndefine(domain, name, UndefineFlags);
        if (error?.ErrorCode == LibvirtException.InvalidArgumentCode)
        {
            error = TryUndefine(domain, name, UndefineFlagsEveryDriverTakes);
        }

        // Undefining a running domain leaves it running as a transient one; QEMU refuses to undefine that
        // again ("cannot undefine transient domain"), yet its definition is gone as asked.
        if (error is null || error.IsNoDomain || (error.IsOperationInvalid && !IsPersistent(domain, name)))
        {
            return;
        }

        throw error;
    }

    public string GetXml(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var domain = Lookup(name);
        return LibvirtNative.TakeString(LibvirtNative.virDomainGetXMLDesc(domain, 0))
            ?? throw Failed(nameof(LibvirtNative.virDomainGetXMLDesc), name);
    }

    /// <summary>A plain connection does not recover; <see cref="ResilientHypervisor"/> does and reports its outages.</summary>
    public string? Unavailable => null;

    public IDisposable WatchLifecycle(Action<DomainEvent> handler) => LibvirtEvents.Subscribe(_connection, Uri, handler);

    /// <summary>Calls <paramref name="handler"/> with libvirt's close reason when the connection is lost.</summary>
    public IDisposable OnConnectionClosed(Action<string> handler) => LibvirtEvents.OnClose(_connection, Uri, reason => handler($"libvirt closed the connection (reason {reason})"));

    public void Dispose() => _connection.Dispose();

    private static bool IsKvmUsable(ConnectionHandle connection, string arch)
    {
        var xml = LibvirtNative.virConnectGetDomainCapabilities(connection, null, arch, null, "kvm", 0);
        if (xml == 0)
        {
            LibvirtNative.virResetLastError();
            return false;
        }

        LibvirtNative.Free(xml);
        return true;
    }

    private LibvirtException? TryUndefine(DomainHandle domain, string name, uint flags) =>
        LibvirtNative.virDomainUndefineFlags(domain, flags) == 0 ? null : Failed(nameof(LibvirtNative.virDomainUndefineFlags), name);

    private DomainHandle Lookup(string name) =>
        TryLookup(name, out var error) ?? throw error!;

    private DomainHandle? TryLookup(string name)
    {
        var domain = TryLookup(name, out var error);
        return domain is not null || error!.IsNoDomain ? domain : throw error;
    }

    private DomainHandle? TryLookup(string name, out LibvirtException? error)
    {
        var domain = LibvirtNative.virDomainLookupByName(_connection, name);
        if (!domain.IsInvalid)
        {
            error = null;
            return domain;
        }

        error = Failed(nameof(LibvirtNative.virDomainLookupByName), name);
        domain.Dispose();
        return null;
    }

    /// <summary>The domain's name, UUID and state; null when it vanished (a transient domain that stopped).</summary>
    private DomainInfo? Describe(DomainHandle domain)
    {
        var name = Marshal.PtrToStringUTF8(LibvirtNative.virDomainGetName(domain))
            ?? throw Failed(nameof(LibvirtNative.virDomainGetName), null);
        var uuid = UuidOf(domain, name);
        if (LibvirtNative.virDomainGetState(domain, out var state, out var reason, 0) < 0)
        {
            var error = Failed(nameof(LibvirtNative.virDomainGetState), name);
            return error.IsNoDomain ? null : throw error;
        }

        if (LibvirtNative.virDomainGetInfo(domain, out var info) < 0)
        {
            var error = Failed(nameof(LibvirtNative.virDomainGetInfo), name);
            return error.IsNoDomain ? null : throw error;
        }

        return new DomainInfo(name, uuid, (DomainState)state, reason, info.VirtualCpus, (long)info.MaxMemoryKiB * 1024);
    }

    private Guid UuidOf(DomainHandle domain, string name)
    {
        var buffer = new byte[LibvirtNative.UuidStringBufferLength];
        if (LibvirtNative.virDomainGetUUIDString(domain, buffer) < 0)
        {
            throw Failed(nameof(LibvirtNative.virDomainGetUUIDString), name);
        }

        return Guid.Parse(Encoding.ASCII.GetString(buffer, 0, LibvirtNative.UuidStringBufferLength - 1));
    }

    /// <summary>Whether the domain runs (or is paused); false when it vanished meanwhile.</summary>
    private bool IsActive(DomainHandle domain, string name)
    {
        var active = LibvirtNative.virDomainIsActive(domain);
        if (active >= 0)
        {
            return active == 1;
        }

        var error = Failed(nameof(LibvirtNative.virDomainIsActive), name);
        return error.IsNoDomain ? false : throw error;
    }

    private bool IsPersistent(DomainHandle domain, string name)
    {
        var persistent = LibvirtNative.virDomainIsPersistent(domain);
        if (persistent >= 0)
        {
            return persistent == 1;
        }

        var error = Failed(nameof(LibvirtNative.virDomainIsPersistent), name);
        return error.IsNoDomain ? false : throw error;
    }

    private LibvirtException Failed(string operation, string? domainName) =>
        LibvirtException.FromLastError(operation, domainName, Uri);
}
