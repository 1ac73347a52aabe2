using Microsoft.Data.Sqlite;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Scheduler;

/// <summary>
/// Statements that change rows, run with their parameters bound by position (<see cref="DirectStatement"/>) through
/// <see cref="Sql.Execute"/>, on a real SQLite connection: every value type the store passes, in any order, errors as
/// Microsoft.Data.Sqlite raises them, and SQL it must leave to Microsoft.Data.Sqlite.
/// </summary>
public sealed class DirectStatementTests : IDisposable
{
    private const string Insert = "INSERT INTO t (id, name, small, big, ratio, data, maybe) VALUES (@id, @name, @small, @big, @ratio, @data, @maybe)";
    private readonly SqliteConnection _connection = new("Data Source=:memory:");

    public DirectStatementTests()
    {
        _connection.Open();
        StatementCache.Attach(_connection);
        SqliteDatabase.Execute(_connection, "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, small INTEGER, big INTEGER, ratio REAL, data BLOB, maybe TEXT) STRICT");
    }

    public void Dispose()
    {
        StatementCache.Detach(_connection);
        _connection.Dispose();
    }

    private (string, long, long, double, string, bool) Row(string id)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT name, small, big, ratio, data, maybe IS NULL FROM t WHERE id = @id";
        command.Parameters.AddWithValue("@id", id);
        using var r = command.ExecuteReader();
        Assert.True(r.Read(), $"no row {id}");
        return (r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetDouble(3), Convert.ToHexString((byte[])r.GetValue(4)), r.GetBoolean(5));
    }

    [Fact]
    public void Execute_EveryValueType_StoredExactly_AndTheChangedRowCounted()
    {
        Assert.NotNull(StatementCache.TakeDirect(_connection, Insert));

        var changed = Sql.Execute(_connection, null, Insert,
            ("@id", "w-1"), ("@name", "Zoë ☃ \U0001F600"), ("@small", 7), ("@big", long.MaxValue), ("@ratio", 0.25), ("@data", new byte[] { 0, 1, 255 }), ("@maybe", null));

        Assert.Equal(1, changed);
        Assert.Equal(("Zoë ☃ \U0001F600", 7L, long.MaxValue, 0.25, "0001FF", true), Row("w-1"));
    }

    [Fact]
    public void Execute_SameStatementWithItsParametersInAnotherOrder_EachValueStillInItsColumn()
    {
        Sql.Execute(_connection, null, Insert, ("@id", "w-1"), ("@name", "a"), ("@small", 1), ("@big", 2L), ("@ratio", 3.0), ("@data", Array.Empty<byte>()), ("@maybe", "x"));

        Sql.Execute(_connection, null, Insert, ("@maybe", null), ("@data", new byte[] { 9 }), ("@ratio", 6.5), ("@big", 5L), ("@small", 4u), ("@name", "b"), ("@id", "w-2"));

        Assert.Equal(("a", 1L, 2L, 3.0, "", false), Row("w-1"));
        Assert.Equal(("b", 4L, 5L, 6.5, "09", true), Row("w-2"));
    }

    [Fact]
    public void Execute_ConstraintBroken_SqliteExceptionNamingIt_AndTheStatementRunsAgainAfterwards()
    {
        (string, object?)[] Values(string id) => [("@id", id), ("@name", "a"), ("@small", 1), ("@big", 2L), ("@ratio", 3.0), ("@data", new byte[] { 1 }), ("@maybe", null)];
        Sql.Execute(_connection, null, Insert, Values("w-1"));

        var e = Assert.Throws<SqliteException>(() => Sql.Execute(_connection, null, Insert, Values("w-1")));
        Sql.Execute(_connection, null, Insert, Values("w-2"));

        Assert.Equal(19, e.SqliteErrorCode);
        Assert.Contains("UNIQUE constraint failed: t.id", e.Message, StringComparison.Ordinal);
        Assert.Equal(("a", 1L, 2L, 3.0, "01", true), Row("w-2"));
    }

    [Fact]
    public void Execute_AParameterOfTheStatementNotGiven_RefusedNamingIt_NothingStored()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            Sql.Execute(_connection, null, Insert, ("@id", "w-1"), ("@name", "a"), ("@small", 1), ("@big", 2L), ("@ratio", 3.0), ("@data", null)));

        Assert.Contains("@maybe", e.Message, StringComparison.Ordinal);
        Assert.Equal(0L, (long)new SqliteCommand("SELECT COUNT(*) FROM t", _connection).ExecuteScalar()!);
    }

    [Fact]
    public void Execute_SeveralStatementsOrAValueItCannotBind_RunByMicrosoftDataSqliteInstead()
    {
        const string Two = "INSERT INTO t (id) VALUES (@a); INSERT INTO t (id) VALUES (@b)";
        Assert.Null(StatementCache.TakeDirect(_connection, Two));
        Assert.False(DirectStatement.CanBind([("@id", Guid.Empty)]));

        Sql.Execute(_connection, null, Two, ("@a", "w-1"), ("@b", "w-2"));
        Sql.Execute(_connection, null, "INSERT INTO t (id, maybe) VALUES (@id, @maybe)", ("@id", "w-3"), ("@maybe", Guid.Empty));

        Assert.Equal(3L, (long)new SqliteCommand("SELECT COUNT(*) FROM t", _connection).ExecuteScalar()!);
    }
}
