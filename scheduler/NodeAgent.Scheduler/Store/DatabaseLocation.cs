using Npgsql;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Where the scheduler keeps its state, as <c>--database</c> says: a file path is an SQLite database (one scheduler);
/// <c>postgresql://USER@HOST:PORT/DATABASE</c> or an Npgsql connection string (<c>Host=…;Database=…</c>) is a PostgreSQL
/// database that several replicas may share.
/// </summary>
public abstract record DatabaseLocation
{
    /// <summary>What the location is, for messages and logs: never a password.</summary>
    public abstract string Describe();

    public sealed override string ToString() => Describe();

    /// <summary>Reads <c>--database</c>; throws <see cref="ArgumentException"/> with what to write instead.</summary>
    public static DatabaseLocation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            return PostgresUri(text);
        }

        if (text.Contains('=', StringComparison.Ordinal) && text.Contains("host", StringComparison.OrdinalIgnoreCase))
        {
            return PostgresKeywords(text);
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("a file path (SQLite) or postgresql://USER@HOST:PORT/DATABASE is needed");
        }

        return new SqliteFile(text);
    }

    private static PostgresServer PostgresKeywords(string text)
    {
        try
        {
            return new PostgresServer(new NpgsqlConnectionStringBuilder(text));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(
                $"the PostgreSQL connection string is not valid: {e.Message}; write it as Host=HOST;Port=5432;Database=NAME;Username=USER " +
                "or as postgresql://USER@HOST:5432/NAME", e);
        }
    }

    /// <summary>
    /// postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?sslmode=MODE&amp;application_name=NAME], as libpq reads it; the
    /// password is better left out and given in PGPASSWORD or ~/.pgpass, where ps(1) and the logs do not show it.
    /// </summary>
    private static PostgresServer PostgresUri(string text)
    {
        const string Form = "write it as postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or ~/.pgpass)";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            throw new ArgumentException($"'{Redacted(text)}' is not a PostgreSQL URI: {Form}");
        }

        var settings = new NpgsqlConnectionStringBuilder { Host = uri.Host.Trim('[', ']'), Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            settings.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                settings.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0)
        {
            throw new ArgumentException($"'{Redacted(text)}' names no database: {Form}");
        }

        settings.Database = database;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.IndexOf('=', StringComparison.Ordinal) is var at and >= 0
                ? (Uri.UnescapeDataString(pair[..at]), Uri.UnescapeDataString(pair[(at + 1)..]))
                : (Uri.UnescapeDataString(pair), string.Empty);
            switch (key)
            {
                case "sslmode":
                    settings.SslMode = Enum.TryParse<SslMode>(value, ignoreCase: true, out var mode)
                        ? mode
                        : throw new ArgumentException($"sslmode={value} is not one of disable, allow, prefer, require, verify-ca, verify-full");
                    break;
                case "application_name":
                    settings.ApplicationName = value;
                    break;
                case "connect_timeout":
                    settings.Timeout = int.TryParse(value, out var seconds) && seconds > 0
                        ? seconds
                        : throw new ArgumentException($"connect_timeout={value} is not a positive number of seconds");
                    break;
                default:
                    throw new ArgumentException($"the PostgreSQL URI parameter '{key}' is not known here; sslmode, application_name and connect_timeout are");
            }
        }

        return new PostgresServer(settings);
    }

    /// <summary>The URI with any password replaced by ***, for messages.</summary>
    private static string Redacted(string uri)
    {
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        var scheme = uri.IndexOf("://", StringComparison.Ordinal) + 3;
        var colon = at > scheme ? uri.IndexOf(':', scheme, at - scheme) : -1;
        return colon < 0 ? uri : uri[..(colon + 1)] + "***" + uri[at..];
    }

    /// <summary>An SQLite database file.</summary>
    public sealed record SqliteFile(string Path) : DatabaseLocation
    {
        public override string Describe() => "sqlite " + Path;
    }

    /// <summary>A PostgreSQL database.</summary>
    public sealed record PostgresServer : DatabaseLocation
    {
        public PostgresServer(NpgsqlConnectionStringBuilder settings)
        {
            ConnectionString = settings.ConnectionString;
            Server = Postgres.PostgresErrors.Describe(settings);
        }

        /// <summary>The connection string, with the password when one was given: for Npgsql only.</summary>
        public string ConnectionString { get; }

        /// <summary>host:port/database as user.</summary>
        public string Server { get; }

        public override string Describe() => "postgresql " + Server;
    }
}
