using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Tests.Scheduler;

public sealed class LeaseIdTests
{
    private const string Alphabet = "23456789abcdefghijkmnpqrstuvwxyz";
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 6, 50, 0, TimeSpan.Zero);

    [Fact]
    public void New_TenThousandInOneMillisecond_EachIsWDashTimeAndSevenRandomOfTheAlphabetAndEveryCharacterTurnsUpInEveryRandomPlace()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => LeaseId.New(T0).Value).ToList();

        Assert.All(ids, id => Assert.Matches("^w-[a-km-np-z2-9]{15}$", id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Single(ids.Select(id => id[2..10]).Distinct(StringComparer.Ordinal));
        for (var place = 10; place < 17; place++)
        {
            var seen = ids.Select(id => id[place]).ToHashSet();
            Assert.True(seen.SetEquals(Alphabet), $"place {place} had {seen.Count} of the {Alphabet.Length} characters");
        }

        Assert.All(ids, id => Assert.True(LeaseId.TryParse(id, out _, out var problem), problem));
    }

    [Theory]
    [InlineData(0, "22222222")]
    [InlineData(1, "22222223")]
    [InlineData(31, "2222222z")]
    [InlineData(32, "22222232")]
    [InlineData((1L << 40) - 1, "zzzzzzzz")]
    public void New_MillisecondsSince2020_AreTheTimePartInBase32(long milliseconds, string timePart)
    {
        var id = LeaseId.New(LeaseId.Epoch.AddMilliseconds(milliseconds)).Value;

        Assert.Equal(timePart, id[2..10]);
    }

    [Fact]
    public void New_LaterCreationTimes_SortAfterEarlierOnesOrdinally()
    {
        DateTimeOffset[] times =
        [
            LeaseId.Epoch, LeaseId.Epoch.AddMilliseconds(31), LeaseId.Epoch.AddMilliseconds(32), T0, T0.AddMilliseconds(1),
            T0.AddSeconds(1), T0.AddDays(400), new(2054, 11, 1, 0, 0, 0, TimeSpan.Zero),
        ];

        // Three ids per time, so that the random part cannot put a later id before an earlier one.
        var made = times.SelectMany((time, i) => Enumerable.Range(0, 3).Select(_ => (Order: i, Id: LeaseId.New(time).Value))).ToList();
        var sorted = made.OrderBy(m => m.Id, StringComparer.Ordinal).Select(m => m.Order);

        Assert.Equal(made.Select(m => m.Order), sorted);
    }
}
