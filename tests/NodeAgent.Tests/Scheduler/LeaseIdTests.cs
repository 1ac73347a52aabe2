using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Tests.Scheduler;

public sealed class LeaseIdTests
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyz23456789";

    [Fact]
    public void New_TenThousand_EachIsWDashAndTenLettersOfTheAlphabetAndEveryLetterTurnsUpInEveryPlace()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => LeaseId.New().Value).ToList();

        Assert.All(ids, id => Assert.Matches("^w-[a-km-np-z2-9]{10}$", id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        for (var place = 2; place < 12; place++)
        {
            var seen = ids.Select(id => id[place]).ToHashSet();
            Assert.True(seen.SetEquals(Alphabet), $"place {place} had {seen.Count} of the {Alphabet.Length} letters");
        }

        Assert.All(ids, id => Assert.True(LeaseId.TryParse(id, out _, out var problem), problem));
    }
}
