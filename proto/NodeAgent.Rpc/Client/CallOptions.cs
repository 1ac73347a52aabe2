namespace NodeAgent.Rpc.Client;

/// <summary>Per-call settings: how long to wait, what metadata to send, and when to give up.</summary>
public readonly record struct CallOptions
{
    /// <summary>How long the call may take; sent as <c>grpc-timeout</c> so the server stops working too.</summary>
    public TimeSpan? Timeout { get; init; }

    public Metadata? Headers { get; init; }

    public CancellationToken CancellationToken { get; init; }

    public static CallOptions WithTimeout(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        new() { Timeout = timeout, CancellationToken = cancellationToken };
}

/// <summary>Settings of a <see cref="RpcChannel"/>.</summary>
public sealed record RpcChannelOptions
{
    public int MaxReceiveMessageSize { get; init; } = GrpcProtocol.DefaultMaxMessageSize;

    public int MaxSendMessageSize { get; init; } = GrpcProtocol.DefaultMaxMessageSize;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Pings an idle connection this often, so a dead peer is noticed on a long stream.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Checks the server's certificate on TLS channels; null uses the system's trust store.</summary>
    public System.Net.Security.RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>The certificate this client presents on TLS channels (mutual TLS), asked for at each handshake; null presents none.</summary>
    public Func<System.Security.Cryptography.X509Certificates.X509Certificate2?>? ClientCertificate { get; init; }

    /// <summary>Metadata sent on every call, e.g. an authorization token.</summary>
    public Metadata? DefaultHeaders { get; init; }

    /// <summary>Metadata read anew for every call, after <see cref="DefaultHeaders"/>: e.g. a token from a file that may change.</summary>
    public Func<Metadata?>? HeadersPerCall { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
