using Microsoft.Data.Sqlite;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Quotas;
using NodeAgent.Scheduler.Store;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>Quota settings in a real SQLite file: the step that adds them to an existing database, and how changes combine.</summary>
public sealed class QuotaStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly TempDirectory _directory = new();

    private string DatabasePath => Path.Combine(_directory.Path, "s.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    /// <summary>A database as a step-13 scheduler (before quotas) left it: alice has two live leases and an ended one.</summary>
    private void CreateStepTwelveDatabase()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        Migrations.Apply(connection, 13);
        SqliteDatabase.Execute(connection, """
            INSERT INTO hosts (host_id, hostname, agent_version, architecture, domain_type, capacity_vcpus, capacity_memory_bytes,
                               capacity_disk_bytes, labels, features, registered_at)
            VALUES ('h1', 'h1', 'old', 'x86_64', 'qemu', 8, 8589934592, 107374182400, '{}', '[]', 1800000000000);
            INSERT INTO leases (lease_id, owner, image, vcpus, memory_bytes, disk_bytes, state, reason, host_id, created_at, expires_at, updated_at, request_id)
            VALUES ('w-oldrunning', 'alice', 'debian-12', 2, 1073741824, 0, 'running', 'running on h1', 'h1', 1799999000000, 1800007200000, 1799999000000, 'r-1'),
                   ('w-oldstopped', 'alice', 'debian-12', 1, 536870912, 0, 'stopped', 'stopped on h1', 'h1', 1799999000000, 1800007200000, 1799999000000, NULL),
                   ('w-oldended', 'alice', 'debian-12', 4, 536870912, 0, 'ended', 'released', 'h1', 1799990000000, 1800007200000, 1799999000000, NULL);
            """);
        Assert.Equal(13, Migrations.CurrentVersion(connection));
    }

    [Fact]
    public async Task Open_StepThirteenDatabase_KeepsItsLeasesLimitsNothingAndCountsThemOnceAQuotaIsSet()
    {
        CreateStepTwelveDatabase();

        using var database = new SqliteDatabase(DatabasePath);
        var leases = new LeaseStore(database);
        var quotas = new QuotaStore(database);
        var admission = new QuotaAdmission();
        var asked = new Lease(LeaseId.Parse("w-new"), "alice", "debian-12", new Resources(1, 1L << 30, 0), LeaseState.Pending, "accepted", null, Now, Now.AddHours(1), Now, null);

        Assert.Equal(Migrations.Latest, database.Read(Migrations.CurrentVersion));
        Assert.Equal(["w-oldended", "w-oldrunning", "w-oldstopped"], leases.Read(s => s.ListLeases(includeEnded: true)).Select(l => l.Id.Value).Order());
        var only = Assert.Single(quotas.List());
        Assert.Equal(new ProjectQuota(ProjectQuota.DefaultProject, QuotaSettings.None, QuotaSettings.None), only);
        Assert.Null(await leases.WriteAsync(s => admission.Refuse(s, asked, Now)));
        Assert.Equal(new ProjectUse(2, 3, 1536L << 20, 0), leases.Read(s => s.LiveUseOf("alice")));

        await quotas.ChangeAsync("alice", new QuotaChange { MaxWorkspaces = 2 }.Apply, "admin", Now);

        Assert.Equal(
            "project alice's quota of 2 workspaces would be exceeded by 1 (2 in use + 1 asked); release a lease or ask an admin for more (ws quota show alice)",
            await leases.WriteAsync(s => admission.Refuse(s, asked, Now)));
    }

    [Fact]
    public async Task ChangeAsync_GivenLimitsOnly_KeepsTheOthersAndInheritsTheDefaultsLimitByLimit()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var quotas = new QuotaStore(database);
        await quotas.ChangeAsync("*", new QuotaChange { MaxVcpus = 16, MaxMemoryBytes = 64L << 30, MaxLeaseDuration = TimeSpan.FromDays(7) }.Apply, "root", Now);
        await quotas.ChangeAsync("alice", new QuotaChange { MaxVcpus = 32 }.Apply, "admin", Now);

        var alice = await quotas.ChangeAsync("alice", new QuotaChange { MaxWorkspaces = 4 }.Apply, "admin2", Now.AddMinutes(1));

        Assert.Equal(new QuotaSettings { MaxVcpus = 32, MaxWorkspaces = 4 }, alice.Own);
        Assert.Equal((32, 64L << 30, 4, TimeSpan.FromDays(7)), (alice.MaxVcpus, alice.MaxMemoryBytes, alice.MaxWorkspaces, alice.MaxLeaseDuration));
        Assert.Equal((Now.AddMinutes(1), "admin2"), (alice.UpdatedAt, alice.UpdatedBy));
        Assert.Equal(["*", "alice"], quotas.List().Select(q => q.Project));
        Assert.Equal(alice, quotas.List()[1]);
    }

    [Fact]
    public async Task ChangeAsync_ResetAlone_RemovesTheProjectsRowSoItHasTheDefault()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var quotas = new QuotaStore(database);
        await quotas.ChangeAsync("*", new QuotaChange { MaxVcpus = 16 }.Apply, "root", Now);
        await quotas.ChangeAsync("alice", new QuotaChange { MaxVcpus = 32, MaxWorkspaces = 2 }.Apply, "admin", Now);

        var alice = await quotas.ChangeAsync("alice", new QuotaChange { Reset = true }.Apply, "admin", Now);

        Assert.Equal((QuotaSettings.None, 16, (DateTimeOffset?)null), (alice.Own, alice.MaxVcpus, alice.UpdatedAt));
        Assert.Equal(["*"], quotas.List().Select(q => q.Project));
    }

    [Fact]
    public async Task ChangeAsync_BudgetWithoutAnyPeriod_RefusedAndNothingStored()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var quotas = new QuotaStore(database);

        var error = await Assert.ThrowsAsync<InvalidQuotaException>(() => quotas.ChangeAsync("alice", new QuotaChange { MaxVcpus = 4, CoreHours = 1000 }.Apply, "admin", Now));

        Assert.Contains("--period 30d", error.Message, StringComparison.Ordinal);
        Assert.Equal(["*"], quotas.List().Select(q => q.Project));
    }

    [Fact]
    public async Task ChangeAsync_BudgetOrPeriodAlone_KeepsTheOtherFromTheBudgetInForce()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var quotas = new QuotaStore(database);
        await quotas.ChangeAsync("*", new QuotaChange { CoreHours = 1000, Period = TimeSpan.FromDays(30) }.Apply, "root", Now);

        var hours = await quotas.ChangeAsync("alice", new QuotaChange { CoreHours = 5000 }.Apply, "admin", Now);
        var period = await quotas.ChangeAsync("bob", new QuotaChange { Period = TimeSpan.FromDays(7) }.Apply, "admin", Now);
        var exempt = await quotas.ChangeAsync("carol", new QuotaChange { CoreHours = 0 }.Apply, "admin", Now);
        var error = await Assert.ThrowsAsync<InvalidQuotaException>(() => quotas.ChangeAsync("*", new QuotaChange { Reset = true, Period = TimeSpan.FromDays(1) }.Apply, "root", Now));

        Assert.Equal(new CoreHoursBudget(5000, TimeSpan.FromDays(30)), hours.CoreHoursBudget);
        Assert.Equal(new CoreHoursBudget(1000, TimeSpan.FromDays(7)), period.CoreHoursBudget);
        Assert.Null(exempt.CoreHoursBudget);
        Assert.Equal(CoreHoursBudget.Unlimited, exempt.Own.CoreHours);
        Assert.Contains("--core-hours 1000 --period 30d", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeaseWrite_AfterTheQuotaChanged_AdmitsAgainstTheNewQuota_ThoughTheWriterReadTheOldOneBefore()
    {
        using var database = new SqliteDatabase(DatabasePath);
        var leases = new LeaseStore(database);
        var quotas = new QuotaStore(database);
        Assert.True((await leases.WriteAsync(s => s.QuotaOf("physics"))).Own.IsEmpty);

        await quotas.ChangeAsync("physics", (own, _) => own with { MaxVcpus = 4 }, "admin", Now);
        await quotas.ChangeAsync(ProjectQuota.DefaultProject, (own, _) => own with { MaxWorkspaces = 9 }, "admin", Now);

        var seen = await leases.WriteAsync(s => s.QuotaOf("physics"));
        Assert.Equal((4, 9), (seen.Own.MaxVcpus, seen.Default.MaxWorkspaces));
    }
}
