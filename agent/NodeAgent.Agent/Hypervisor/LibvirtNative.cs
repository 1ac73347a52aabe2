using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// The libvirt C API calls the adapter uses, declared as in /usr/include/libvirt (libvirt 9.0), and libc's
/// free for the strings and arrays libvirt hands over. Names are libvirt's own so they can be grepped in its
/// documentation. Pointers libvirt returns are owned either by a <see cref="SafeHandle"/> or, for strings,
/// copied and freed on the spot by <see cref="TakeString"/>.
/// </summary>
internal static partial class LibvirtNative
{
    private const string Library = "libvirt.so.0";

    // "libc" resolves to the platform's C library both under the JIT and in the native AOT binary (checked on
    // Debian 12). libvirt allocates with g_malloc, which is malloc, and documents free() for what it returns.
    private const string LibC = "libc";

    public const int UuidStringBufferLength = 36 + 1; // VIR_UUID_STRING_BUFLEN

    public const uint UndefineManagedSave = 1 << 0; // VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    public const uint UndefineSnapshotsMetadata = 1 << 1; // VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    public const uint UndefineNvram = 1 << 2; // VIR_DOMAIN_UNDEFINE_NVRAM
    public const uint UndefineCheckpointsMetadata = 1 << 4; // VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial ConnectionHandle virConnectOpen(string name);

    [LibraryImport(Library)]
    public static partial int virConnectClose(nint conn);

    [LibraryImport(Library)]
    public static partial nint virConnectGetURI(ConnectionHandle conn);

    [LibraryImport(Library)]
    public static partial nint virConnectGetCapabilities(ConnectionHandle conn);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint virConnectGetDomainCapabilities(ConnectionHandle conn, string? emulatorbin, string? arch, string? machine, string? virttype, uint flags);

    /// <summary>Returns the number of domains and an array of virDomainPtr the caller frees, each and then the array.</summary>
    [LibraryImport(Library)]
    public static partial int virConnectListAllDomains(ConnectionHandle conn, out nint domains, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial DomainHandle virDomainLookupByName(ConnectionHandle conn, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial DomainHandle virDomainDefineXML(ConnectionHandle conn, string xml);

    [LibraryImport(Library)]
    public static partial int virDomainFree(nint domain);

    /// <summary>The name is owned by the domain object: valid while the handle is.</summary>
    [LibraryImport(Library)]
    public static partial nint virDomainGetName(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainGetUUIDString(DomainHandle domain, [Out] byte[] buf);

    /// <summary>virDomainInfo: state, maximum and current memory in KiB, vCPUs, CPU time in ns.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct DomainInfoNative
    {
        public byte State;
        public nuint MaxMemoryKiB;
        public nuint MemoryKiB;
        public ushort VirtualCpus;
        public ulong CpuTimeNanoseconds;
    }

    [LibraryImport(Library)]
    public static partial int virDomainGetInfo(DomainHandle domain, out DomainInfoNative info);

    [LibraryImport(Library)]
    public static partial int virDomainGetState(DomainHandle domain, out int state, out int reason, uint flags);

    /// <summary>1 when the domain runs (or is paused), 0 when not, -1 on error.</summary>
    [LibraryImport(Library)]
    public static partial int virDomainIsActive(DomainHandle domain);

    /// <summary>1 when the domain has a persistent definition, 0 when it is transient, -1 on error.</summary>
    [LibraryImport(Library)]
    public static partial int virDomainIsPersistent(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainCreate(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainDestroy(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainShutdown(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainSuspend(DomainHandle domain);

    [LibraryImport(Library)]
    public static partial int virDomainResume(DomainHandle domain);

    public const int MetadataElement = 2; // VIR_DOMAIN_METADATA_ELEMENT
    public const uint AffectLive = 1; // VIR_DOMAIN_AFFECT_LIVE
    public const uint AffectConfig = 2; // VIR_DOMAIN_AFFECT_CONFIG

    /// <summary>Replaces the domain's metadata element in namespace <paramref name="uri"/>, written with prefix <paramref name="key"/>.</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int virDomainSetMetadata(DomainHandle domain, int type, string? metadata, string? key, string? uri, uint flags);

    /// <summary>The metadata element in namespace <paramref name="uri"/>, for the caller to free; null with VIR_ERR_NO_DOMAIN_METADATA when there is none.</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint virDomainGetMetadata(DomainHandle domain, int type, string? uri, uint flags);

    [LibraryImport(Library)]
    public static partial int virDomainUndefineFlags(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    public static partial nint virDomainGetXMLDesc(DomainHandle domain, uint flags);

    // libvirt keeps the last error per thread: these must run on the thread of the failed call, before any
    // other libvirt call on it (every public libvirt function starts by resetting the error).
    [LibraryImport(Library)]
    public static partial int virGetLastErrorCode();

    [LibraryImport(Library)]
    public static partial int virGetLastErrorDomain();

    [LibraryImport(Library)]
    public static partial nint virGetLastErrorMessage();

    [LibraryImport(Library)]
    public static partial void virResetLastError();

    /// <summary>
    /// Stops libvirt from printing every error to stderr, which it does when no handler is set; the adapter
    /// reports errors itself, and many (a lookup of a domain that is gone) are expected. Process-wide and idempotent.
    /// </summary>
    public static unsafe void SilenceDefaultErrorPrinting() => virSetErrorFunc(0, &IgnoreError);

    [LibraryImport(Library)]
    private static unsafe partial void virSetErrorFunc(nint userData, delegate* unmanaged<nint, nint, void> handler);

    [UnmanagedCallersOnly]
    private static void IgnoreError(nint userData, nint error)
    {
    }

    [LibraryImport(LibC, EntryPoint = "free")]
    public static partial void Free(nint pointer);

    /// <summary>Copies a string libvirt allocated for the caller and frees it; null for a null pointer.</summary>
    public static string? TakeString(nint pointer)
    {
        if (pointer == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(pointer);
        }
        finally
        {
            Free(pointer);
        }
    }
}

/// <summary>Owns one reference to a virConnectPtr; releasing it closes the connection.</summary>
internal sealed class ConnectionHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    // The source-generated marshaller creates instances for returned pointers through this constructor.
    public ConnectionHandle()
        : base(ownsHandle: true)
    {
    }

    // virConnectClose returns the references still held (by domain objects not yet freed), or -1 on error.
    protected override bool ReleaseHandle() => LibvirtNative.virConnectClose(handle) >= 0;
}

/// <summary>Owns one reference to a virDomainPtr; releasing it frees the reference, not the domain.</summary>
internal sealed class DomainHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public DomainHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a pointer from an array libvirt returned.</summary>
    public static DomainHandle Adopt(nint domain)
    {
        var owned = new DomainHandle();
        owned.SetHandle(domain);
        return owned;
    }

    protected override bool ReleaseHandle() => LibvirtNative.virDomainFree(handle) == 0;
}
