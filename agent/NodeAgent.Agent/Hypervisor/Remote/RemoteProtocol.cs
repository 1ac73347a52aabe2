namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>
/// The numbers of libvirt's remote protocol the agent uses, as src/rpc/virnetprotocol.x, virkeepaliveprotocol.x and
/// src/remote/remote_protocol.x define them. The protocol is append-only: these have not changed since libvirt 1.2.
/// </summary>
internal static class RemoteProtocol
{
    public const uint Program = 0x20008086; // REMOTE_PROGRAM
    public const uint ProgramVersion = 1;
    public const uint KeepaliveProgram = 0x6b656570; // "keep"
    public const uint KeepaliveVersion = 1;
    public const int KeepalivePing = 1;
    public const int KeepalivePong = 2;

    /// <summary>VIR_NET_MESSAGE_MAX (32 MiB) plus the 4-byte length word, which it does not count.</summary>
    public const int MaxMessageLength = (32 * 1024 * 1024) + 4;

    // virNetMessageType and virNetMessageStatus.
    public const int TypeCall = 0;
    public const int TypeReply = 1;
    public const int TypeMessage = 2;
    public const int StatusOk = 0;
    public const int StatusError = 1;

    // remote_auth_type.
    public const int AuthNone = 0;
    public const int AuthPolkit = 2;

    // virErrorDomain of errors the protocol client raises itself: VIR_FROM_RPC, VIR_FROM_REMOTE.
    public const int FromRpc = 7;
    public const int FromRemote = 13;

    public const int EventIdLifecycle = 0; // VIR_DOMAIN_EVENT_ID_LIFECYCLE

    // remote_procedure.
    public const int ConnectOpen = 1;
    public const int ConnectClose = 2;
    public const int ConnectGetCapabilities = 7;
    public const int DomainCreate = 9;
    public const int DomainDefineXml = 11;
    public const int DomainDestroy = 12;
    public const int DomainGetXmlDesc = 14;
    public const int DomainGetInfo = 16;
    public const int DomainLookupByName = 23;
    public const int DomainResume = 28;
    public const int DomainShutdown = 33;
    public const int DomainSuspend = 34;
    public const int AuthList = 66;
    public const int AuthPolkitProcedure = 70;
    public const int DomainIsActive = 150;
    public const int DomainIsPersistent = 151;
    public const int DomainGetState = 212;
    public const int DomainUndefineFlags = 231;
    public const int DomainSetMetadata = 264;
    public const int DomainGetMetadata = 265;
    public const int ConnectListAllDomains = 273;
    public const int ConnectDomainEventCallbackRegisterAny = 316;
    public const int ConnectDomainEventCallbackDeregisterAny = 317;
    public const int DomainEventCallbackLifecycle = 318;
    public const int ConnectGetDomainCapabilities = 342;
    public const int ConnectGetAllDomainStats = 344;
}
