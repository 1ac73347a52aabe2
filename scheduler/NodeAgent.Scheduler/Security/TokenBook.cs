using System.Collections.Concurrent;
using System.Security.Cryptography;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Security;

/// <summary>What an admin asks for when making a token.</summary>
public sealed record TokenSpec(string User, string Project, Role Role, string HostId, TimeSpan? ExpiresIn, string Description);

/// <summary>A token request that cannot be met; the message names the field and what it needs.</summary>
public sealed class InvalidTokenException(string message) : Exception(message);

/// <summary>
/// Makes, checks and revokes the API's bearer tokens. A checked token is kept in memory for
/// <see cref="CacheFor"/>: a revocation takes effect at once on the replica that made it, and within that time on the
/// others (they read the token's row again).
/// </summary>
public sealed class TokenBook(ITokenStore store, TimeProvider time, RandomNumberGenerator random)
{
    /// <summary>How long a checked token is trusted before its row is read again.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);

    /// <summary>The longest a token may be made to last; longer-lived credentials are better not expiring and revoked when done.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(3650);

    private readonly ConcurrentDictionary<string, (TokenRecord Token, long ReadAt)> _checked = new(StringComparer.Ordinal);

    /// <summary>The token of an <c>Authorization: Bearer TOKEN</c> header, or null when the header is not of that form.</summary>
    public static string? BearerOf(string? header) =>
        header is not null && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;

    /// <summary>The caller a bearer value names, or null when it is malformed, unknown, expired or revoked.</summary>
    public Caller? Authenticate(string bearer)
    {
        if (TokenSecret.IdOf(bearer) is not { } id)
        {
            return null;
        }

        var now = time.GetTimestamp();
        if (!_checked.TryGetValue(id, out var entry) || time.GetElapsedTime(entry.ReadAt, now) > CacheFor)
        {
            if (store.Find(id) is not { } stored)
            {
                _checked.TryRemove(id, out _);
                return null;
            }

            entry = (stored, now);
            _checked[id] = entry;
        }

        return entry.Token.IsValidAt(time.GetUtcNow()) && TokenSecret.Matches(bearer, entry.Token.SecretSha256) ? entry.Token.ToCaller() : null;
    }

    /// <summary>Makes a token as <paramref name="spec"/> says; returns it and its bearer value, which is never stored.</summary>
    public async Task<(TokenRecord Token, string Secret)> CreateAsync(TokenSpec spec, string by, CancellationToken cancellationToken = default)
    {
        Check(spec);
        var (token, secret) = New(spec, by);
        await store.InsertAsync(token, cancellationToken);
        return (token, secret);
    }

    public IReadOnlyList<TokenRecord> List(string? user, string? project, bool includeRevoked) => store.List(user, project, includeRevoked);

    public TokenRecord? Find(string id) => store.Find(id);

    public async Task<TokenRecord?> RevokeAsync(string id, string by, CancellationToken cancellationToken = default)
    {
        var revoked = await store.RevokeAsync(id, by, time.GetUtcNow(), cancellationToken);
        _checked.TryRemove(id, out _);
        return revoked;
    }

    /// <summary>
    /// Makes the first admin token when no admin token is valid, and writes it to <paramref name="path"/> (mode 0600)
    /// before storing it, so it is never stored without being written. Returns whether it made one.
    /// </summary>
    public async Task<bool> BootstrapAsync(string path, CancellationToken cancellationToken = default)
    {
        var (token, secret) = New(new TokenSpec("admin", string.Empty, Role.Admin, string.Empty, null, "first admin token, made at the scheduler's first start"), "nodeagent-scheduler");
        var temporary = path + ".new";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.Delete(temporary);
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                // The token is everything: readable by the scheduler's user only.
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, fileOptions))
            using (var writer = new StreamWriter(stream))
            {
                await writer.WriteLineAsync(secret.AsMemory(), cancellationToken);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"cannot write the first admin token to {path}: {e.Message}; set --admin-token-file to a file the scheduler may create", e);
        }

        if (!await store.InsertFirstAdminAsync(token, time.GetUtcNow(), cancellationToken))
        {
            File.Delete(temporary);
            return false;
        }

        File.Move(temporary, path, overwrite: true);
        return true;
    }

    private (TokenRecord Token, string Secret) New(TokenSpec spec, string by)
    {
        var (id, secret) = TokenSecret.New(random);
        var now = time.GetUtcNow();
        var created = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
        var user = spec.Role == Role.Agent ? spec.HostId : spec.User;
        var token = new TokenRecord(id, TokenSecret.Hash(secret), user, spec.Project, spec.Role, spec.HostId, spec.Description, created, by,
            spec.ExpiresIn is { } lifetime ? created + lifetime : null);
        return (token, secret);
    }

    private static void Check(TokenSpec spec)
    {
        var problems = new List<string>();
        void Name(string field, string value, bool required)
        {
            if ((value.Length > 0 || required) && !IdSyntax.IsValid(value, out var problem))
            {
                problems.Add($"{field} {problem}");
            }
        }

        switch (spec.Role)
        {
            case Role.User:
                Name("user", spec.User, required: true);
                Name("project", spec.Project, required: true);
                if (spec.HostId.Length > 0) problems.Add("host_id is only for agent tokens");
                break;
            case Role.Admin:
                Name("user", spec.User, required: true);
                Name("project", spec.Project, required: false);
                if (spec.HostId.Length > 0) problems.Add("host_id is only for agent tokens");
                break;
            case Role.Agent:
                Name("host_id", spec.HostId, required: true);
                if (spec.User.Length > 0 || spec.Project.Length > 0) problems.Add("an agent token names its host only: leave user and project empty");
                break;
        }

        if (spec.ExpiresIn is { } e && (e < TimeSpan.FromMinutes(1) || e > MaxLifetime))
        {
            problems.Add($"expires_in must be between 1 minute and {MaxLifetime.TotalDays:0} days, or absent for a token that does not expire");
        }

        if (spec.Description.Length > 200 || spec.Description.Any(char.IsControl))
        {
            problems.Add("description must be at most 200 characters, none of them control characters");
        }

        if (problems.Count > 0)
        {
            throw new InvalidTokenException("CreateToken: " + string.Join("; ", problems));
        }
    }
}
