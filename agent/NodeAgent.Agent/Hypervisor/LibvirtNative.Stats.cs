using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>libvirt's bulk domain statistics (virConnectGetAllDomainStats) and the typed parameters it returns.</summary>
internal static partial class LibvirtNative
{
    public const uint StatsState = 1 << 0; // VIR_DOMAIN_STATS_STATE
    public const uint StatsCpuTotal = 1 << 1; // VIR_DOMAIN_STATS_CPU_TOTAL
    public const uint StatsBalloon = 1 << 2; // VIR_DOMAIN_STATS_BALLOON
    public const uint StatsVcpu = 1 << 3; // VIR_DOMAIN_STATS_VCPU
    public const uint StatsInterface = 1 << 4; // VIR_DOMAIN_STATS_INTERFACE
    public const uint StatsBlock = 1 << 5; // VIR_DOMAIN_STATS_BLOCK

    public const int TypedParamInt = 1; // VIR_TYPED_PARAM_INT
    public const int TypedParamUInt = 2;
    public const int TypedParamLLong = 3;
    public const int TypedParamULLong = 4;
    public const int TypedParamDouble = 5;
    public const int TypedParamBoolean = 6;

    /// <summary>virDomainStatsRecord: the domain (owned by the record list) and its typed parameters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct DomainStatsRecord
    {
        public nint Domain;
        public nint Params;
        public int ParamCount;
    }

    /// <summary>virTypedParameter: an 80-byte field name, the type, and an 8-byte union at offset 88.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 96)]
    public struct TypedParameter
    {
        public const int FieldLength = 80; // VIR_TYPED_PARAM_FIELD_LENGTH

        [FieldOffset(80)]
        public int Type;

        [FieldOffset(88)]
        public long Bits;

        [FieldOffset(88)]
        public double Double;
    }

    /// <summary>Returns the number of records and a NULL-terminated array of virDomainStatsRecordPtr, freed with virDomainStatsRecordListFree.</summary>
    [LibraryImport(Library)]
    public static partial int virConnectGetAllDomainStats(ConnectionHandle conn, uint stats, out nint records, uint flags);

    [LibraryImport(Library)]
    public static partial void virDomainStatsRecordListFree(nint records);

    /// <summary>virDomainGetInfo on a domain pointer owned by someone else (a stats record).</summary>
    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    public static partial int virDomainGetInfoBorrowed(nint domain, out DomainInfoNative info);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    public static partial nint virDomainGetNameBorrowed(nint domain);
}
