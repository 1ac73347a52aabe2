using System.Data.Common;
using NodeAgent.Scheduler.Security;

namespace NodeAgent.Scheduler.Store;

/// <summary>A token as stored: never its bearer value, only that value's SHA-256.</summary>
public sealed record TokenRecord(
    string Id,
    byte[] SecretSha256,
    string User,
    string Project,
    Role Role,
    string HostId,
    string Description,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt = null,
    string RevokedBy = "")
{
    public bool IsValidAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || now < ExpiresAt);

    /// <summary>Who the token says its holder is.</summary>
    public Caller ToCaller() => new(User, Project, Role, Role == Role.Agent ? HostId : null, Id);
}

/// <summary>The API's tokens (schema step 21).</summary>
public interface ITokenStore
{
    TokenRecord? Find(string id);

    /// <summary>Tokens newest first; revoked ones only when asked for.</summary>
    IReadOnlyList<TokenRecord> List(string? user, string? project, bool includeRevoked);

    Task InsertAsync(TokenRecord token, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="token"/> only if no admin token is valid at <paramref name="now"/>; true when it did.</summary>
    Task<bool> InsertFirstAdminAsync(TokenRecord token, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Revokes the token (a revoked one keeps its first revocation); null when there is no such token.</summary>
    Task<TokenRecord?> RevokeAsync(string id, string by, DateTimeOffset now, CancellationToken cancellationToken = default);
}

public sealed class TokenStore(IStoreDatabase database) : ITokenStore
{
    private const string Columns =
        "token_id, secret_sha256, user_name, project, role, host_id, description, created_at, created_by, expires_at, revoked_at, revoked_by";

    public TokenRecord? Find(string id) => database.Read(connection => Find(connection, null, id));

    public IReadOnlyList<TokenRecord> List(string? user, string? project, bool includeRevoked) => database.Read(connection =>
    {
        using var command = Sql.Command(connection, null,
            $"SELECT {Columns} FROM tokens WHERE (CAST(@user AS TEXT) IS NULL OR user_name = @user) AND (CAST(@project AS TEXT) IS NULL OR project = @project) " +
            $"{(includeRevoked ? "" : "AND revoked_at IS NULL")} ORDER BY created_at DESC, token_id",
            ("@user", user), ("@project", project));
        return ReadAll(command);
    });

    public Task InsertAsync(TokenRecord token, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) => Insert(connection, transaction, token), cancellationToken);

    public Task<bool> InsertFirstAdminAsync(TokenRecord token, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            // Replicas starting together: one makes the first admin token, the others then see it.
            database.Sql.Serialize(connection, transaction, "tokens:first-admin");
            using var command = Sql.Command(connection, transaction,
                "SELECT CAST(COUNT(*) AS INTEGER) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)",
                ("@now", now.ToUnixTimeMilliseconds()));
            if (Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                return false;
            }

            Insert(connection, transaction, token);
            return true;
        }, cancellationToken);

    public Task<TokenRecord?> RevokeAsync(string id, string by, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            Sql.Execute(connection, transaction, "UPDATE tokens SET revoked_at = @at, revoked_by = @by WHERE token_id = @id AND revoked_at IS NULL",
                ("@at", now.ToUnixTimeMilliseconds()), ("@by", by), ("@id", id));
            return Find(connection, transaction, id);
        }, cancellationToken);

    private static TokenRecord? Find(DbConnection connection, DbTransaction? transaction, string id)
    {
        using var command = Sql.Command(connection, transaction, $"SELECT {Columns} FROM tokens WHERE token_id = @id", ("@id", id));
        return ReadAll(command).SingleOrDefault();
    }

    private static bool Insert(DbConnection connection, DbTransaction transaction, TokenRecord t)
    {
        Sql.Execute(connection, transaction,
            $"INSERT INTO tokens ({Columns}) VALUES (@id, @hash, @user, @project, @role, @host, @description, @created, @by, @expires, NULL, '')",
            ("@id", t.Id), ("@hash", t.SecretSha256), ("@user", t.User), ("@project", t.Project), ("@role", RoleName(t.Role)),
            ("@host", t.HostId), ("@description", t.Description), ("@created", t.CreatedAt.ToUnixTimeMilliseconds()), ("@by", t.CreatedBy),
            ("@expires", t.ExpiresAt?.ToUnixTimeMilliseconds()));
        return true;
    }

    private static List<TokenRecord> ReadAll(DbCommand command)
    {
        using var r = command.ExecuteReader();
        var tokens = new List<TokenRecord>();
        while (r.Read())
        {
            tokens.Add(new TokenRecord(
                r.GetString(0), (byte[])r.GetValue(1), r.GetString(2), r.GetString(3), ParseRole(r.GetString(4)), r.GetString(5), r.GetString(6),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)), r.GetString(8),
                r.IsDBNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9)),
                r.IsDBNull(10) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(10)),
                r.GetString(11)));
        }

        return tokens;
    }

    private static string RoleName(Role role) => role.ToString().ToLowerInvariant();

    private static Role ParseRole(string text) =>
        Enum.TryParse<Role>(text, ignoreCase: true, out var role) ? role : throw new StoreException($"unknown token role '{text}' in the database");
}
