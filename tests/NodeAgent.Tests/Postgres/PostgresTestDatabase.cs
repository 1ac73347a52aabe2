using Npgsql;
using NodeAgent.Scheduler.Store.Postgres;

namespace NodeAgent.Tests.Postgres;

/// <summary>
/// A database of its own on the real local PostgreSQL, with a random name, dropped (with any session still in it)
/// on dispose. The server is the one in NODEAGENT_TEST_POSTGRES, by default the one tests/setup/start-postgres.sh
/// sets up. When it cannot be reached the test fails and says how to start it: these tests are never skipped.
/// </summary>
internal sealed class PostgresTestDatabase : IDisposable
{
    public const string Variable = "NODEAGENT_TEST_POSTGRES";
    public const string DefaultServer = "Host=127.0.0.1;Port=5432;Username=nodeagent;Password=nodeagent;Database=postgres";

    private readonly string _adminConnectionString;

    public PostgresTestDatabase()
    {
        var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } set ? set : DefaultServer)
        {
            Pooling = false,
        };
        _adminConnectionString = admin.ConnectionString;
        Name = "nodeagent_test_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            Admin($"CREATE DATABASE {Name}");
        }
        catch (NpgsqlException e)
        {
            throw new InvalidOperationException(
                $"the PostgreSQL tests need a server at {admin.Host}:{admin.Port} where user {admin.Username} may create databases, and got: {e.Message}; " +
                $"run tests/setup/start-postgres.sh (as root) to install and start one, or set {Variable} to the connection string of another", e);
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = Name, Pooling = true }.ConnectionString;
    }

    /// <summary>The database's name (letters, digits and underscores only).</summary>
    public string Name { get; }

    /// <summary>A connection string for the database, with the password: for the code under test, never for messages.</summary>
    public string ConnectionString { get; }

    /// <summary>The connection string's settings, for what messages should name.</summary>
    public NpgsqlConnectionStringBuilder Settings => new(ConnectionString);

    /// <summary>The same server with <paramref name="change"/> applied to the connection string.</summary>
    public string With(Action<NpgsqlConnectionStringBuilder> change)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        change(builder);
        return builder.ConnectionString;
    }

    /// <summary>The database with the scheduler's schema applied, as a scheduler opens it.</summary>
    public PostgresDatabase Open() => new(ConnectionString);

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            // A plain DROP first: it stops an autovacuum worker busy in the database, which FORCE may not (that takes
            // pg_signal_backend); FORCE then ends any session of the test's own that is still open.
            Admin($"DROP DATABASE IF EXISTS {Name}");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse)
        {
            Admin($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
        }
    }

    private void Admin(string sql)
    {
        using var connection = new NpgsqlConnection(_adminConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}

/// <summary>One-line statements for the tests, with named parameters (<c>@name</c>).</summary>
internal static class PgSql
{
    public static int Execute(NpgsqlConnection connection, string sql, params (string Name, object Value)[] parameters) =>
        Execute(connection, null, sql, parameters);

    public static int Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static T Scalar<T>(NpgsqlConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, null, sql, parameters);
        return (T)command.ExecuteScalar()!;
    }

    /// <summary>Every row, each as its columns' values joined by " | " (NULL as "NULL").</summary>
    public static List<string> Rows(NpgsqlConnection connection, string sql)
    {
        using var command = Command(connection, null, sql, []);
        using var r = command.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            rows.Add(string.Join(" | ", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
