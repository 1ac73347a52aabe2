using Npgsql;

namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>Turns Npgsql's exceptions into <see cref="StoreException"/> messages that name the server, what failed and what to check.</summary>
internal static class PostgresErrors
{
    /// <summary>host:port/database and the user, as the connection string says; never the password.</summary>
    public static string Describe(NpgsqlConnectionStringBuilder settings) =>
        $"{settings.Host ?? "(no Host)"}:{settings.Port}/{settings.Database ?? settings.Username ?? "(default database)"} as {settings.Username ?? "(default user)"}";

    public static StoreException Failure(string action, string server, NpgsqlException e)
    {
        var (what, check) = e is PostgresException p
            ? ($"{p.SqlState}: {p.MessageText}", Check(p.SqlState))
            : (e.InnerException is { } inner && inner.Message != e.Message ? $"{e.Message} ({inner.Message})" : e.Message,
                "check that PostgreSQL runs there and accepts TCP connections from this machine, and the Host and Port of the connection string");
        return new StoreException($"{action} the PostgreSQL database {server} failed: {what}; {check}", e);
    }

    /// <summary>What to check for an error the server reported, by its SQLSTATE (PostgreSQL manual, appendix A).</summary>
    private static string Check(string sqlState) => sqlState switch
    {
        "28P01" or "28000" => "check the Username and Password of the connection string, and that pg_hba.conf lets this user in from this machine",
        "3D000" => "create the database (CREATE DATABASE name OWNER user) or correct Database= in the connection string",
        "42501" => "let the user own the database (ALTER DATABASE name OWNER TO user): the scheduler creates and changes its tables",
        "53300" => "the server has no connection left: raise its max_connections, or lower Max Pool Size in every replica's connection string",
        "53100" => "free disk space on the server",
        "57P01" or "57P02" or "57P03" => "the server is shutting down or starting up: try again once it is up",
        "40001" or "40P01" => "another transaction conflicted with this one and it was rolled back: try again",
        _ when sqlState.StartsWith("08", StringComparison.Ordinal) => "the connection to the server broke: check the network path to it and its log",
        _ when sqlState.StartsWith("23", StringComparison.Ordinal) => "a constraint of the schema refused the write: another writer stored a conflicting row first",
        _ => "see the server's log for this error",
    };
}
