using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// A libvirt call that failed, or a host whose libvirt cannot serve the agent. Carries libvirt's error code
/// (virErrorNumber), the call, the domain it was for and the connection URI, so callers can tell "already
/// gone" from real failures (<see cref="IsNoDomain"/>) and the message tells the operator what to do.
/// </summary>
public sealed class LibvirtException : Exception
{
    // virErrorNumber values the adapter and its callers act on (virterror.h).
    public const int NoSupportCode = 3;
    public const int NoConnectCode = 5;
    public const int InvalidConnectionCode = 6;
    public const int InvalidArgumentCode = 8;
    public const int OperationFailedCode = 9;
    public const int OsTypeCode = 16;
    public const int NoDeviceCode = 23;
    public const int XmlErrorCode = 27;
    public const int DomainExistsCode = 28;
    public const int OperationDeniedCode = 29;
    public const int XmlDetailCode = 35;
    public const int SystemErrorCode = 38;
    public const int RpcCode = 39;
    public const int NoDomainCode = 42;
    public const int AuthFailedCode = 45;
    public const int OperationInvalidCode = 55;
    public const int ConfigUnsupportedCode = 67;
    public const int NoDomainMetadataCode = 80;
    public const int OperationUnsupportedCode = 84;
    public const int AccessDeniedCode = 88;
    public const int XmlInvalidSchemaCode = 92;
    public const int AuthUnavailableCode = 94;

    // virErrorDomain values: where in libvirt the error arose. RPC and remote errors mean the daemon is
    // unreachable or went away, whatever the code.
    private const int FromRpc = 7;
    private const int FromRemote = 13;

    private const string DomainExistsHint = "a domain with this name or UUID exists already; redefine it with its UUID or undefine it first";

    public LibvirtException(int errorCode, string operation, string? domainName, string? uri, string libvirtMessage)
        : this(errorCode, 0, operation, domainName, uri, libvirtMessage)
    {
    }

    public LibvirtException()
        : this("libvirt call failed")
    {
    }

    public LibvirtException(string message)
        : base(message)
    {
        Operation = "";
        LibvirtMessage = message;
    }

    public LibvirtException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = "";
        LibvirtMessage = message;
    }

    internal LibvirtException(int errorCode, int errorDomain, string operation, string? domainName, string? uri, string libvirtMessage)
        : base(Compose(errorCode, errorDomain, operation, domainName, uri, libvirtMessage))
    {
        ErrorCode = errorCode;
        Operation = operation;
        DomainName = domainName;
        Uri = uri;
        LibvirtMessage = libvirtMessage;
        IsConnectionFailure = IsConnectionError(errorCode, errorDomain, operation);
    }

    /// <summary>libvirt's virErrorNumber; 0 when the failure is the adapter's own finding.</summary>
    public int ErrorCode { get; }

    /// <summary>The libvirt function that failed, e.g. "virDomainDefineXML".</summary>
    public string Operation { get; }

    /// <summary>The domain the call was for; null for calls on the connection.</summary>
    public string? DomainName { get; }

    /// <summary>The connection URI the call went through.</summary>
    public string? Uri { get; }

    /// <summary>libvirt's own text, without the adapter's context and hint.</summary>
    public string LibvirtMessage { get; }

    /// <summary>The domain does not exist (VIR_ERR_NO_DOMAIN); removing it again is done.</summary>
    public bool IsNoDomain => ErrorCode == NoDomainCode;

    /// <summary>The domain is not in a state that allows the call (VIR_ERR_OPERATION_INVALID), e.g. not running.</summary>
    public bool IsOperationInvalid => ErrorCode == OperationInvalidCode;

    /// <summary>The XML was refused: malformed, invalid or unsupported by this hypervisor.</summary>
    public bool IsInvalidXml => IsXmlError(ErrorCode);

    /// <summary>libvirtd could not be reached or the connection broke; retrying later may help.</summary>
    public bool IsConnectionFailure { get; }

    /// <summary>
    /// Reads libvirt's thread-local last error. Call it right after the failing call, on the same thread and
    /// before any other libvirt call (each one clears the error).
    /// </summary>
    internal static LibvirtException FromLastError(string operation, string? domainName, string? uri)
    {
        var code = LibvirtNative.virGetLastErrorCode();
        var errorDomain = LibvirtNative.virGetLastErrorDomain();
        var message = code == 0 ? "libvirt reported no error" : Marshal.PtrToStringUTF8(LibvirtNative.virGetLastErrorMessage()) ?? "";
        LibvirtNative.virResetLastError();
        return new LibvirtException(code, errorDomain, operation, domainName, uri, message);
    }

    private static string Compose(int code, int errorDomain, string operation, string? domainName, string? uri, string libvirtMessage)
    {
        var target = domainName is not null ? $" on domain {domainName}" : uri is not null ? $" on {uri}" : "";
        return $"{operation}{target} failed: {libvirtMessage}; {Hint(code, errorDomain, operation, libvirtMessage)}";
    }

    // 16..23 are the "missing OS type / kernel / root / source / target / name / OS / device" codes.
    private static bool IsXmlError(int code) =>
        code is (>= OsTypeCode and <= NoDeviceCode) or XmlErrorCode or XmlDetailCode or XmlInvalidSchemaCode or ConfigUnsupportedCode;

    private static bool IsConnectionError(int code, int errorDomain, string operation) =>
        code is NoConnectCode or InvalidConnectionCode or RpcCode
        || errorDomain is FromRpc or FromRemote
        || (code == SystemErrorCode && operation == nameof(LibvirtNative.virConnectOpen));

    private static string Hint(int code, int errorDomain, string operation, string libvirtMessage) => code switch
    {
        _ when IsConnectionError(code, errorDomain, operation) =>
            "is libvirtd running? start it (tests/setup/start-libvirtd.sh) or check the connection URI",
        NoDomainCode => "the domain does not exist; define it first or check the name",
        OperationInvalidCode => "the domain is not in a state that allows this (e.g. not running, or running already); read its state and retry",
        DomainExistsCode => DomainExistsHint,
        // Redefining a name with another (or no) <uuid> is reported as a generic failure.
        OperationFailedCode when libvirtMessage.Contains("already exists", StringComparison.Ordinal) => DomainExistsHint,
        _ when IsXmlError(code) =>
            "the domain XML is malformed or not supported by this hypervisor; fix what the message names",
        AuthFailedCode or AuthUnavailableCode or AccessDeniedCode or OperationDeniedCode =>
            "the agent is not allowed to do this on this connection; run it as root or grant access (polkit, libvirt ACLs)",
        NoSupportCode or OperationUnsupportedCode => "this libvirt driver does not support the call; check the connection URI",
        _ => "see libvirtd's log (/var/log/libvirt/libvirtd.log or journalctl -u libvirtd) for the cause",
    };
}
