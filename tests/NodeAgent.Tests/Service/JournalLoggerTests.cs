using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NodeAgent.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>
/// Log entries in the journal's native protocol, received on a real unix datagram socket standing in for
/// /run/systemd/journal/socket (no journald runs here), and the fallback to the systemd console format.
/// </summary>
public sealed partial class JournalLoggerTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly Socket _journal = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _socketPath;

    public JournalLoggerTests()
    {
        _socketPath = Path.Combine(_directory.Path, "journal.sock");
        _journal.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _journal.ReceiveTimeout = 10_000;
    }

    public void Dispose()
    {
        _journal.Dispose();
        _directory.Dispose();
    }

    [Theory]
    [InlineData("NodeAgent.Scheduler.Leases.LeaseManager", LogLevel.Information, LogLevel.Information, true)]
    [InlineData("NodeAgent.Scheduler.Leases.LeaseManager", LogLevel.Debug, LogLevel.Information, false)]
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Information, LogLevel.Information, false)]
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning, LogLevel.Information, true)]
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Information, LogLevel.Debug, true)]
    [InlineData("System.Net.Http.HttpClient", LogLevel.Information, LogLevel.Information, false)]
    [InlineData("Microsoft.Hosting.Lifetime", LogLevel.Error, LogLevel.Error, true)]
    [InlineData("Microsoft.Hosting.Lifetime", LogLevel.Warning, LogLevel.Error, false)]
    [InlineData(null, LogLevel.Information, LogLevel.Information, true)]
    public void Logs_FrameworkCategories_FromWarningUnlessDebugging(string? category, LogLevel level, LogLevel minimum, bool logged) =>
        Assert.Equal(logged, ServiceLogging.Logs(category, level, minimum));

    [Fact]
    public void Log_WithPlaceholders_SendsMessagePriorityIdentifierAndAFieldPerPlaceholder()
    {
        using var provider = new JournalLoggerProvider("nodeagent", _socketPath);
        using var factory = LoggerFactory.Create(logging => logging.AddProvider(provider));
        var logger = factory.CreateLogger("NodeAgent.Agent.Workspaces.Reconciler");

        LogRefused(logger, "ws-0042", "host-7", "4 vCPUs asked, 2 left");

        var fields = Receive();
        Assert.Equal("Workspace ws-0042 refused on host-7: 4 vCPUs asked, 2 left", Field(fields, "MESSAGE"));
        Assert.Equal("4", Field(fields, "PRIORITY"));
        Assert.Equal("nodeagent", Field(fields, "SYSLOG_IDENTIFIER"));
        Assert.Equal("NodeAgent.Agent.Workspaces.Reconciler", Field(fields, "LOGGER"));
        Assert.Equal("417", Field(fields, "EVENT_ID"));
        Assert.Equal("ws-0042", Field(fields, "WORKSPACE_ID"));
        Assert.Equal("host-7", Field(fields, "HOST_ID"));
        Assert.Equal("4 vCPUs asked, 2 left", Field(fields, "REASON"));
        Assert.DoesNotContain(fields, f => f.Key.Contains("ORIGINAL", StringComparison.Ordinal));
    }

    [Fact]
    public void Log_WithException_SendsTheMultiLineMessageInTheBinaryEncoding()
    {
        using var provider = new JournalLoggerProvider("nodeagent-scheduler", _socketPath);
        using var factory = LoggerFactory.Create(logging => logging.AddProvider(provider));
        Exception thrown;
        try
        {
            throw new InvalidOperationException("the store is locked");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        LogFailed(factory.CreateLogger("NodeAgent.Scheduler.Leases.ExpiryService"), thrown, 3);

        var datagram = ReceiveRaw();
        // NAME, newline, 64-bit little-endian length, value: how the protocol carries a value with newlines.
        Assert.Equal("MESSAGE\n"u8.ToArray(), datagram[..8]);
        var message = Field(JournalFields.Parse(datagram), "MESSAGE");
        Assert.Equal((ulong)System.Text.Encoding.UTF8.GetByteCount(message), BitConverter.ToUInt64(datagram, 8));
        Assert.StartsWith("Expiring 3 leases failed\nSystem.InvalidOperationException: the store is locked\n", message);
    }

    [Fact]
    public void Log_WithNoJournalListening_WritesTheSystemdConsoleFormatInstead()
    {
        using var fallback = new StringWriter();
        using var provider = new JournalLoggerProvider("nodeagent", Path.Combine(_directory.Path, "no-journal.sock"), fallback);
        using var factory = LoggerFactory.Create(logging => logging.AddProvider(provider));

        LogRefused(factory.CreateLogger("Reconciler"), "ws-1", "host-1", "full");

        Assert.Equal("<4>Reconciler[417] Workspace ws-1 refused on host-1: full" + Environment.NewLine, fallback.ToString());
    }

    [Theory]
    [InlineData("WorkspaceId", "WORKSPACE_ID")]
    [InlineData("HostID", "HOST_ID")]
    [InlineData("DelayMs", "DELAY_MS")]
    [InlineData("HTTPServer", "HTTP_SERVER")]
    [InlineData("Message", "ARG_MESSAGE")]
    [InlineData("_private", "PRIVATE")]
    [InlineData("9lives", "LIVES")]
    [InlineData("a.b-c", "A_B_C")]
    [InlineData("__", null)]
    public void Name_OfAPlaceholder_IsAValidJournalField(string placeholder, string? expected) =>
        Assert.Equal(expected, JournalFields.Name(placeholder));

    [Theory]
    [InlineData(LogFormat.Auto, "8:4242", "socket:[4242]", true, LogFormat.Journal)]
    [InlineData(LogFormat.Auto, "8:4242", "socket:[4242]", false, LogFormat.Systemd)]
    [InlineData(LogFormat.Auto, "8:4242", "pipe:[4242]", true, LogFormat.Console)]
    [InlineData(LogFormat.Auto, "8:4242", "socket:[777]", true, LogFormat.Console)]
    [InlineData(LogFormat.Auto, null, "socket:[4242]", true, LogFormat.Console)]
    [InlineData(LogFormat.Systemd, null, null, false, LogFormat.Systemd)]
    [InlineData(LogFormat.Journal, null, null, false, LogFormat.Journal)]
    public void Resolve_Auto_UsesTheJournalOnlyWhenStderrIsItsStream(LogFormat format, string? journalStream, string? stderr, bool socketExists, LogFormat expected) =>
        Assert.Equal(expected, ServiceLogging.Resolve(format, journalStream, stderr, socketExists));

    [LoggerMessage(EventId = 417, Level = LogLevel.Warning, Message = "Workspace {WorkspaceId} refused on {HostId}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string workspaceId, string hostId, string reason);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Expiring {Count} leases failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, int count);

    private static string Field(IReadOnlyList<KeyValuePair<string, string>> fields, string name) =>
        Assert.Single(fields, f => f.Key == name).Value;

    private IReadOnlyList<KeyValuePair<string, string>> Receive() => JournalFields.Parse(ReceiveRaw());

    private byte[] ReceiveRaw()
    {
        var buffer = new byte[256 * 1024];
        var length = _journal.Receive(buffer);
        return buffer[..length];
    }
}
