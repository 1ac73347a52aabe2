using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Service;

namespace NodeAgent.Tests.Service;

/// <summary>
/// The watchdog pings only while the main loop marks progress. The clock is moved by hand (a stuck loop is one that
/// does not mark while time passes); the pings go to a real notify socket.
/// </summary>
public sealed class WatchdogTests
{
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 30_000)]
    public async Task PingOnce_WhileTheLoopMarksProgress_SendsWatchdog()
    {
        var clock = new SteppedClock();
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);
        var liveness = new Liveness(clock, Watchdog);
        using var pinger = new WatchdogPinger(liveness, notifier, clock, NullLogger<WatchdogPinger>.Instance);

        for (var i = 0; i < 5; i++)
        {
            clock.Advance(Watchdog / 2);
            liveness.Mark();
            Assert.True(pinger.PingOnce());
        }

        await socket.WaitForAsync(m => m == "WATCHDOG=1", TimeSpan.FromSeconds(10), count: 5);
    }

    [Fact(Timeout = 30_000)]
    public async Task PingOnce_WhenTheLoopIsStuck_StopsPingingUntilItMarksAgain()
    {
        var clock = new SteppedClock();
        using var socket = NotifySocket.Abstract();
        using var notifier = new SystemdNotifier(socket.Address);
        var liveness = new Liveness(clock, Watchdog);
        using var pinger = new WatchdogPinger(liveness, notifier, clock, NullLogger<WatchdogPinger>.Instance);
        liveness.Mark();
        Assert.True(pinger.PingOnce());

        clock.Advance(Watchdog / 2);
        Assert.True(pinger.PingOnce());
        clock.Advance(Watchdog / 2);
        var stuck = pinger.PingOnce();
        clock.Advance(Watchdog * 10);
        var stillStuck = pinger.PingOnce();
        liveness.Mark();
        var recovered = pinger.PingOnce();

        Assert.False(stuck);
        Assert.False(stillStuck);
        Assert.True(recovered);
        // The marker tells the pings apart: two before the loop got stuck, one after it recovered, none between.
        notifier.Status("marker");
        await socket.WaitForAsync(m => m == "STATUS=marker", TimeSpan.FromSeconds(10));
        Assert.Equal(["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STATUS=marker"], socket.Messages);
    }

    [Fact]
    public void Liveness_WithoutWatchdog_IsAlwaysAliveAndLetsLoopsWaitAsLongAsTheyLike()
    {
        var clock = new SteppedClock();
        var liveness = new Liveness(clock);

        clock.Advance(TimeSpan.FromDays(1));

        Assert.True(liveness.IsAlive);
        Assert.Equal(TimeSpan.FromSeconds(30), liveness.Bound(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Bound_WithWatchdog_CutsWaitsToAQuarterOfIt()
    {
        var liveness = new Liveness(new SteppedClock(), TimeSpan.FromSeconds(8));

        Assert.Equal(TimeSpan.FromSeconds(2), liveness.Bound(TimeSpan.FromSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(2), liveness.Bound(System.Threading.Timeout.InfiniteTimeSpan));
        Assert.Equal(TimeSpan.FromSeconds(1), liveness.Bound(TimeSpan.FromSeconds(1)));
    }

    [Theory]
    [InlineData("500000", null, 500)]
    [InlineData("30000000", "", 30_000)]
    [InlineData("30000000", "4242", 30_000)]
    [InlineData("30000000", "4243", null)]
    [InlineData("0", null, null)]
    [InlineData("x", null, null)]
    [InlineData(null, "4242", null)]
    public void IntervalFrom_ReadsWatchdogUsecForThisProcessOnly(string? usec, string? pid, int? expectedMilliseconds)
    {
        var interval = WatchdogPinger.IntervalFrom(usec, pid, processId: 4242);

        Assert.Equal(expectedMilliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null, interval);
    }

    /// <summary>A clock whose timestamps move only when the test says (timers are not used by these tests).</summary>
    private sealed class SteppedClock : TimeProvider
    {
        private long _ticks = TimeSpan.TicksPerDay;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
