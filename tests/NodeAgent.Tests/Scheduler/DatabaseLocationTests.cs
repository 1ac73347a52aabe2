using Npgsql;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Scheduler;

/// <summary>--database: a path is SQLite; a postgresql:// URI or an Npgsql connection string is PostgreSQL, never shown with its password.</summary>
public sealed class DatabaseLocationTests
{
    [Theory]
    [InlineData("/var/lib/nodeagent-scheduler/scheduler.db")]
    [InlineData("scheduler.db")]
    [InlineData("/srv/state=1/s.db")]
    public void Parse_APath_IsAnSqliteFile(string path)
    {
        var location = DatabaseLocation.Parse(path);

        Assert.Equal(path, Assert.IsType<DatabaseLocation.SqliteFile>(location).Path);
        Assert.Equal("sqlite " + path, location.Describe());
    }

    [Fact]
    public void Parse_APostgresqlUri_TakesEveryPart_AndNeverShowsThePassword()
    {
        var location = Assert.IsType<DatabaseLocation.PostgresServer>(
            DatabaseLocation.Parse("postgresql://sched%40lab:s3cr%3Bt@db.example:6432/nodeagent?sslmode=require&application_name=replica-2&connect_timeout=7"));
        var settings = new NpgsqlConnectionStringBuilder(location.ConnectionString);

        Assert.Equal(("db.example", 6432, "nodeagent", "sched@lab", "s3cr;t"), (settings.Host, settings.Port, settings.Database, settings.Username, settings.Password));
        Assert.Equal((SslMode.Require, "replica-2", 7), (settings.SslMode, settings.ApplicationName, settings.Timeout));
        Assert.Equal("postgresql db.example:6432/nodeagent as sched@lab", location.ToString());
        Assert.DoesNotContain("s3cr", location.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AUriWithoutPortOrUser_UsesPort5432_AndLeavesTheUserToTheEnvironment()
    {
        var settings = new NpgsqlConnectionStringBuilder(((DatabaseLocation.PostgresServer)DatabaseLocation.Parse("postgres://10.0.0.5/sched")).ConnectionString);

        Assert.Equal(("10.0.0.5", 5432, "sched", null), (settings.Host, settings.Port, settings.Database, settings.Username));
    }

    [Fact]
    public void Parse_AConnectionString_IsPostgres()
    {
        var location = Assert.IsType<DatabaseLocation.PostgresServer>(DatabaseLocation.Parse("Host=db;Database=nodeagent;Username=sched;Password=hunter2"));

        Assert.Equal("postgresql db:5432/nodeagent as sched", location.Describe());
    }

    [Theory]
    [InlineData("postgresql://sched:hunter2@db.example:5432/", "names no database")]
    [InlineData("postgresql://sched:hunter2@db.example/nodeagent?sslmode=sometimes", "sslmode=sometimes")]
    [InlineData("postgresql://sched:hunter2@db.example/nodeagent?pool=9", "'pool' is not known here")]
    [InlineData("Host=db;Databse=nodeagent;Password=hunter2", "not valid")]
    public void Parse_AWrongPostgresLocation_SaysWhatIsWrong_WithoutThePassword(string text, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => DatabaseLocation.Parse(text));

        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AWrongDatabase_IsAConfigurationProblem()
    {
        var problems = new SchedulerOptions { DatabasePath = "postgresql://db.example/" }.Validate();

        Assert.Contains(problems, p => p.StartsWith("database: ", StringComparison.Ordinal) && p.Contains("names no database", StringComparison.Ordinal));
    }
}
