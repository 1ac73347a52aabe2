using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// A statement that changes rows, prepared once per connection and run through SQLitePCL directly, each parameter
/// bound by its position. Microsoft.Data.Sqlite binds by name, looking every name up among the statement's on every
/// run: a lease's INSERT has 45, so 45 scans of 45 names, and binding took a sixth of the writer's time
/// (docs/scale.md). Here the positions are found once, for the names in the order the caller passes them.
/// Runs in whatever transaction the connection has open, as any statement on it does.
/// </summary>
internal sealed class DirectStatement : IDisposable
{
    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private string[] _names = [];
    private int[] _positions = [];

    private DirectStatement(sqlite3 database, sqlite3_stmt statement)
    {
        _database = database;
        _statement = statement;
    }

    /// <summary>The statement, or null when <paramref name="sql"/> is more than one statement (the caller runs it the usual way).</summary>
    public static DirectStatement? Prepare(SqliteConnection connection, string sql)
    {
        var database = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        var rc = raw.sqlite3_prepare_v2(database, sql, out var statement, out var tail);
        if (rc != raw.SQLITE_OK)
        {
            statement?.Dispose();
            SqliteException.ThrowExceptionForRC(rc, database);
        }

        if (statement is null || !string.IsNullOrWhiteSpace(tail))
        {
            statement?.Dispose();
            return null;
        }

        return new DirectStatement(database, statement);
    }

    /// <summary>Whether every value is of a type this binds (text, integers, a double, bytes, null); otherwise run it the usual way.</summary>
    public static bool CanBind(ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        foreach (var (_, value) in parameters)
        {
            if (value is not (null or DBNull or string or int or long or uint or short or byte or bool or double or byte[]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Runs the statement with these values; returns how many rows it changed.</summary>
    /// <exception cref="SqliteException">SQLite refused it (a constraint, a full disk, …), as Microsoft.Data.Sqlite would throw it.</exception>
    public int Execute(ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var positions = PositionsOf(parameters);
        try
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                if (positions[i] > 0)
                {
                    Check(Bind(positions[i], parameters[i].Value));
                }
            }

            var rc = raw.sqlite3_step(_statement);
            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }

            return raw.sqlite3_changes(_database);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
            raw.sqlite3_clear_bindings(_statement);
        }
    }

    public void Dispose() => _statement.Dispose();

    /// <summary>Each parameter's position (0: the statement has no such parameter), found again only when the names differ from last time.</summary>
    private int[] PositionsOf(ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var same = _names.Length == parameters.Length;
        for (var i = 0; same && i < parameters.Length; i++)
        {
            same = ReferenceEquals(_names[i], parameters[i].Name) || _names[i] == parameters[i].Name;
        }

        if (!same)
        {
            var names = new string[parameters.Length];
            var positions = new int[parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
            {
                names[i] = parameters[i].Name;
                positions[i] = raw.sqlite3_bind_parameter_index(_statement, parameters[i].Name);
            }

            var count = raw.sqlite3_bind_parameter_count(_statement);
            var missing = Enumerable.Range(1, count).Where(p => !positions.Contains(p)).Select(p => raw.sqlite3_bind_parameter_name(_statement, p).utf8_to_string()).ToList();
            if (missing.Count > 0)
            {
                throw new InvalidOperationException($"no value given for {string.Join(", ", missing)}");
            }

            (_names, _positions) = (names, positions);
        }

        return _positions;
    }

    private int Bind(int position, object? value) => value switch
    {
        null or DBNull => raw.sqlite3_bind_null(_statement, position),
        string text => raw.sqlite3_bind_text16(_statement, position, text),
        int number => raw.sqlite3_bind_int64(_statement, position, number),
        long number => raw.sqlite3_bind_int64(_statement, position, number),
        uint number => raw.sqlite3_bind_int64(_statement, position, number),
        short number => raw.sqlite3_bind_int64(_statement, position, number),
        byte number => raw.sqlite3_bind_int64(_statement, position, number),
        bool flag => raw.sqlite3_bind_int64(_statement, position, flag ? 1 : 0),
        double number => raw.sqlite3_bind_double(_statement, position, number),
        byte[] bytes => raw.sqlite3_bind_blob(_statement, position, bytes),
        _ => throw new ArgumentException($"cannot bind a {value.GetType().Name}; check CanBind first", nameof(value)),
    };

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _database);
        }
    }
}
