using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Leases;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// The best-effort queue's order (<see cref="QueueOrder"/>) and the busiest moment of a host's promises
/// (<see cref="HostTimeline"/>): pure functions of leases, checked on hand-made ones.
/// </summary>
public sealed class QueueOrderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly HostId H1 = HostId.Parse("h1");

    private static Lease Queued(string id, string owner, int vcpus = 1) => new(
        LeaseId.Parse(id), owner, "debian-12", new Resources(vcpus, 1L << 30, 0), LeaseState.Pending, "waiting", null, T0, T0.AddDays(1), T0, null)
    { Kind = LeaseKind.BestEffort, QueuedAt = T0 };

    private static Lease Held(int vcpus, DateTimeOffset end) => new(
        LeaseId.New(T0), "ops", "debian-12", new Resources(vcpus, 1L << 30, 0), LeaseState.Running, "running", H1, T0, end, T0, null);

    private static Lease Reserved(int vcpus, DateTimeOffset start, DateTimeOffset end) => new(
        LeaseId.New(T0), "carol", "debian-12", new Resources(vcpus, 1L << 30, 0), LeaseState.Pending, "reserved", H1, T0, end, T0, null)
    { Kind = LeaseKind.Reservation, StartAt = start };

    private static HostRecord Host(int vcpus) => new(
        new HostRegistration(H1, "h1", "test", "x86_64", "qemu", new Resources(vcpus, 64L << 30, 1L << 40), new Dictionary<string, string>(), []),
        HostLoad.Unknown, Resources.None, T0, T0, 0);

    /// <summary>Runs one pass in which every lease whose id is in <paramref name="fits"/> is placed; returns the order tried.</summary>
    private static List<string> Pass(QueueOrder order, params string[] fits)
    {
        var tried = new List<string>();
        while (order.Next() is { } lease)
        {
            tried.Add(lease.Id.Value);
            if (fits.Contains(lease.Id.Value))
            {
                order.Placed(lease);
            }
            else
            {
                order.Blocked(lease);
            }
        }

        return tried;
    }

    [Fact]
    public void Next_ProjectsHoldingDifferentShares_FewestVcpusFirstThenArrival()
    {
        var order = new QueueOrder(
            [Queued("w-a1", "alice"), Queued("w-b1", "bob"), Queued("w-a2", "alice"), Queued("w-c1", "carol")],
            new Dictionary<string, long> { ["alice"] = 4, ["bob"] = 1 });

        var tried = Pass(order, "w-a1", "w-b1", "w-a2", "w-c1");

        // carol holds none, bob 1, alice 4: carol's lease, then bob's, then alice's two in the order they came.
        Assert.Equal(["w-c1", "w-b1", "w-a1", "w-a2"], tried);
    }

    [Fact]
    public void Next_EqualShares_TheProjectWhoseNextLeaseArrivedFirst()
    {
        var order = new QueueOrder([Queued("w-zz", "zed"), Queued("w-aa", "amy")], new Dictionary<string, long>());

        Assert.Equal(["w-zz", "w-aa"], Pass(order, "w-zz", "w-aa"));
    }

    [Fact]
    public void Blocked_HeadThatDoesNotFit_StopsItsProjectOnly()
    {
        var order = new QueueOrder(
            [Queued("w-a1", "alice", vcpus: 8), Queued("w-a2", "alice"), Queued("w-b1", "bob"), Queued("w-b2", "bob")],
            new Dictionary<string, long>());

        var tried = Pass(order, "w-a2", "w-b1", "w-b2");

        Assert.Equal(["w-a1", "w-b1", "w-b2"], tried);
    }

    [Fact]
    public void Positions_CountWithinEachProjectInArrivalOrder()
    {
        var positions = QueueOrder.Positions([Queued("w-a1", "alice"), Queued("w-b1", "bob"), Queued("w-a2", "alice"), Queued("w-a3", "alice")]);

        Assert.Equal([1, 1, 2, 3], new[] { "w-a1", "w-b1", "w-a2", "w-a3" }.Select(id => positions[LeaseId.Parse(id)]));
    }

    [Fact]
    public void PeakOver_ReservationsInsideTheWindow_TheBusiestMomentPerResource()
    {
        var timeline = new HostTimeline(Host(8),
            [Held(2, T0.AddHours(1)), Held(1, T0.AddHours(5))],
            [Reserved(4, T0.AddHours(2), T0.AddHours(3)), Reserved(6, T0.AddHours(4), T0.AddHours(6))]);

        Assert.Equal(3, timeline.PeakOver(T0, T0.AddHours(2)).Vcpus);
        Assert.Equal(5, timeline.PeakOver(T0, T0.AddHours(3)).Vcpus);
        Assert.Equal(7, timeline.PeakOver(T0, T0.AddHours(8)).Vcpus);
        Assert.Equal(6, timeline.PeakOver(T0.AddHours(5), T0.AddHours(8)).Vcpus);
    }

    [Fact]
    public void PeakOver_WindowEndingAsAReservationStarts_DoesNotMeetIt()
    {
        var timeline = new HostTimeline(Host(4), [], [Reserved(4, T0.AddHours(2), T0.AddHours(3))]);

        Assert.Equal(0, timeline.PeakOver(T0, T0.AddHours(2)).Vcpus);
        Assert.Equal(0, timeline.PeakOver(T0.AddHours(3), T0.AddHours(4)).Vcpus);
        Assert.Equal(4, timeline.PeakOver(T0.AddHours(2).AddMilliseconds(-1), T0.AddHours(2).AddMilliseconds(1)).Vcpus);
    }

    [Fact]
    public void PeakOver_HeldAtTheStartGiven_CountsEveryLeaseThenAndOnlyThen()
    {
        var timeline = new HostTimeline(Host(8), [Held(1, T0.AddHours(5))], [Reserved(4, T0.AddHours(1), T0.AddHours(2))]);

        Assert.Equal(3, timeline.PeakOver(T0, T0.AddMinutes(30), heldAtFrom: new Resources(3, 0, 0)).Vcpus);
        Assert.Equal(5, timeline.PeakOver(T0, T0.AddHours(2), heldAtFrom: new Resources(3, 0, 0)).Vcpus);
    }

    [Fact]
    public void FirstReservationConflict_OverflowWithoutAReservation_IsNotTheReservationsBusiness()
    {
        var timeline = new HostTimeline(Host(4), [Held(4, T0.AddHours(10))], [Reserved(2, T0.AddHours(3), T0.AddHours(4))]);

        Assert.Equal(T0.AddHours(3), timeline.FirstReservationConflict(new Resources(1, 0, 0), T0.AddHours(1), T0.AddHours(5)));
        Assert.Null(timeline.FirstReservationConflict(new Resources(1, 0, 0), T0.AddHours(1), T0.AddHours(3)));
    }
}
