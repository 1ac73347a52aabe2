using System.Globalization;
using System.Data.Common;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>What the catalogue may read and change inside one transaction.</summary>
public interface IImageSession
{
    /// <summary>One exact version, active or retired; null when it does not exist.</summary>
    Image? Find(string name, uint version);

    /// <summary>The highest active version of the name; null when it has none.</summary>
    Image? NewestActive(string name);

    /// <summary>The highest version of the name, active or retired; null when the name is unknown.</summary>
    Image? Newest(string name);

    /// <summary>Images ordered by name, then version from the newest; <paramref name="name"/> null for every name.</summary>
    IReadOnlyList<Image> List(bool includeRetired, string? name);

    /// <summary>
    /// Stores the image as its name's highest version + 1 (1 for a new name), computed and inserted in one
    /// statement, so concurrent adds of one name get distinct versions.
    /// </summary>
    Image Insert(NewImage image, DateTimeOffset now);

    /// <summary>Retires the version (0: every active version of the name); retired ones keep their retired_at. Returns how many changed.</summary>
    int Retire(string name, uint version, DateTimeOffset now);
}

/// <summary>The source of truth for the image catalogue: runs catalogue logic in transactions.</summary>
public interface IImageStore
{
    Task<T> WriteAsync<T>(Func<IImageSession, T> work, CancellationToken cancellationToken = default);

    T Read<T>(Func<IImageSession, T> work);
}

/// <summary>The image catalogue in SQLite (the images table, schema step 7).</summary>
public sealed class ImageStore(IStoreDatabase database) : IImageStore
{
    public Task<T> WriteAsync<T>(Func<IImageSession, T> work, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) => work(new Session(connection, transaction, database.Sql)), cancellationToken);

    public T Read<T>(Func<IImageSession, T> work) => database.Read(connection => work(new Session(connection, null, database.Sql)));

    private sealed class Session(DbConnection connection, DbTransaction? transaction, SqlDialect sql) : IImageSession
    {
        private const string Columns =
            "name, version, format, size_bytes, sha256, url, owner, state, kernel, initrd, kernel_cmdline, description, saved_from_lease, created_at, retired_at";

        public Image? Find(string name, uint version) =>
            Query($"SELECT {Columns} FROM images WHERE name = @name AND version = @version", ("@name", name), ("@version", (long)version)).SingleOrDefault();

        public Image? NewestActive(string name) =>
            Query($"SELECT {Columns} FROM images WHERE name = @name AND state = 'active' ORDER BY version DESC LIMIT 1", ("@name", name)).SingleOrDefault();

        public Image? Newest(string name) =>
            Query($"SELECT {Columns} FROM images WHERE name = @name ORDER BY version DESC LIMIT 1", ("@name", name)).SingleOrDefault();

        public IReadOnlyList<Image> List(bool includeRetired, string? name) => Query(
            $"""
            SELECT {Columns} FROM images
            WHERE (@all OR state = 'active') AND (CAST(@name AS TEXT) IS NULL OR name = @name)
            ORDER BY name, version DESC
            """,
            ("@all", includeRetired), ("@name", name));

        public Image Insert(NewImage image, DateTimeOffset now)
        {
            // The next version is one past the newest: writers adding versions of one name take turns.
            sql.Serialize(connection, transaction, "image:" + image.Name);
            using var command = Command(
                """
                INSERT INTO images (name, version, format, size_bytes, sha256, url, owner, state, kernel, initrd, kernel_cmdline,
                                    description, saved_from_lease, created_at)
                SELECT @name, COALESCE(MAX(version), 0) + 1, @format, @size, @sha256, @url, @owner, 'active', @kernel, @initrd, @cmdline,
                       @description, @saved_from, @now
                FROM images WHERE name = @name
                RETURNING version
                """,
                ("@name", image.Name), ("@format", FormatName(image.Format)), ("@size", image.SizeBytes), ("@sha256", image.Sha256),
                ("@url", image.Url), ("@owner", image.Owner), ("@kernel", image.Kernel?.ToString()), ("@initrd", image.Initrd?.ToString()),
                ("@cmdline", image.KernelCmdline), ("@description", image.Description), ("@saved_from", image.SavedFromLease),
                ("@now", now.ToUnixTimeMilliseconds()));
            var version = Convert.ToUInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            return Find(image.Name, version) ?? throw new StoreException($"image {image.Name}:{version} vanished from the database while it was added");
        }

        public int Retire(string name, uint version, DateTimeOffset now)
        {
            using var command = Command(
                "UPDATE images SET state = 'retired', retired_at = @now WHERE name = @name AND (@version = 0 OR version = @version) AND state = 'active'",
                ("@name", name), ("@version", (long)version), ("@now", now.ToUnixTimeMilliseconds()));
            return command.ExecuteNonQuery();
        }

        private List<Image> Query(string sql, params (string Name, object? Value)[] parameters)
        {
            using var command = Command(sql, parameters);
            using var r = command.ExecuteReader();
            var images = new List<Image>();
            while (r.Read())
            {
                images.Add(new Image(
                    r.GetString(0),
                    checked((uint)r.GetInt64(1)),
                    ParseFormat(r.GetString(2)),
                    r.GetInt64(3),
                    r.GetString(4),
                    r.GetString(5),
                    r.GetString(6),
                    ParseState(r.GetString(7)),
                    r.IsDBNull(8) ? null : ImageKey.Parse(r.GetString(8)),
                    r.IsDBNull(9) ? null : ImageKey.Parse(r.GetString(9)),
                    r.GetString(10),
                    r.GetString(11),
                    r.GetString(12),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(13)),
                    r.IsDBNull(14) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(14))));
            }

            return images;
        }

        private DbCommand Command(string sql, params (string Name, object? Value)[] parameters) =>
            Sql.Command(connection, transaction, sql, parameters);

        private static string FormatName(ImageFormat format) => ImageShape.Name(format);

        private static ImageFormat ParseFormat(string text) =>
            Enum.TryParse<ImageFormat>(text, ignoreCase: true, out var format) ? format : throw new StoreException($"unknown image format '{text}' in the database");

        private static ImageState ParseState(string text) =>
            Enum.TryParse<ImageState>(text, ignoreCase: true, out var state) ? state : throw new StoreException($"unknown image state '{text}' in the database");
    }
}
