using NodeAgent.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>sd_notify over real unix datagram sockets: a socket file, and a socket in the abstract namespace.</summary>
public sealed class SystemdNotifierTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact(Timeout = 30_000)]
    public async Task Ready_ToSocketFile_ArrivesAsOneDatagramWithStatus()
    {
        using var directory = new TempDirectory();
        using var socket = NotifySocket.AtPath(directory.Path);
        using var notifier = new SystemdNotifier(socket.Address);

        Assert.True(notifier.Ready("3 workspaces, scheduler connected"));

        Assert.Equal("READY=1\nSTATUS=3 workspaces, scheduler connected", await socket.WaitForAsync(_ => true, Timeout));
    }

    [Fact(Timeout = 30_000)]
    public async Task Notifications_ToAbstractSocket_ArriveInOrder()
    {
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);

        notifier.Status("starting");
        notifier.Watchdog();
        notifier.Stopping("stopping");

        await socket.WaitForAsync(_ => true, Timeout, count: 3);
        Assert.Equal(["STATUS=starting", "WATCHDOG=1", "STOPPING=1\nSTATUS=stopping"], socket.Messages);
    }

    [Fact(Timeout = 30_000)]
    public async Task AfterStopping_WatchdogAndStatusAreNotSent()
    {
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);
        using var other = new SystemdNotifier(socket.Address);

        Assert.True(notifier.Stopping("stopping"));
        Assert.False(notifier.Watchdog());
        Assert.False(notifier.Status("0 workspaces"));
        Assert.False(notifier.Ready("0 workspaces"));
        // Datagrams on one unix socket queue in the order they were sent: once this arrives, nothing else is coming.
        other.Status("marker");

        await socket.WaitForAsync(m => m == "STATUS=marker", Timeout);
        Assert.Equal(["STOPPING=1\nSTATUS=stopping", "STATUS=marker"], socket.Messages);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reloading_CarriesTheMonotonicClock()
    {
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);
        var before = SystemdNotifier.MonotonicMicroseconds();

        notifier.Reloading("reloading");

        var lines = (await socket.WaitForAsync(_ => true, Timeout)).Split('\n');
        Assert.Equal("RELOADING=1", lines[0]);
        var usec = long.Parse(lines[1]["MONOTONIC_USEC=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(usec, before, SystemdNotifier.MonotonicMicroseconds());
        // /proc/uptime counts the same clock (CLOCK_MONOTONIC plus time suspended, which a test host does not spend).
        var uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(usec / 1e6, uptime - 60, uptime + 60);
    }

    [Fact(Timeout = 30_000)]
    public async Task Status_WithNewlines_StaysOneAssignment()
    {
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);

        notifier.Status("two\nlines");

        Assert.Equal("STATUS=two lines", await socket.WaitForAsync(_ => true, Timeout));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relative/notify.sock")]
    public void Send_WithoutAUsableSocket_IsDisabledAndSendsNothing(string? address)
    {
        using var notifier = new SystemdNotifier(address);

        Assert.False(notifier.Enabled);
        Assert.False(notifier.Ready("ready"));
    }

    [Fact]
    public void Send_ToASocketNobodyListensOn_ReturnsFalseWithoutThrowing()
    {
        using var directory = new TempDirectory();
        using var notifier = new SystemdNotifier(Path.Combine(directory.Path, "gone.sock"));

        Assert.True(notifier.Enabled);
        Assert.False(notifier.Ready("ready"));
    }
}
