using System.Data.Common;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>The source of truth for quota settings: the default quota's and each project's own (schema step 13).</summary>
public interface IQuotaStore
{
    /// <summary>The default quota first (empty settings when none are stored), then every project with settings of its own, by name.</summary>
    IReadOnlyList<ProjectQuota> List();

    /// <summary>
    /// Replaces the project's own settings (the default's for <see cref="ProjectQuota.DefaultProject"/>) with what
    /// <paramref name="change"/> makes of them and of the default's, in one transaction; empty settings remove the
    /// project's row. When <paramref name="change"/> throws, nothing is stored. Returns the quota then in force.
    /// </summary>
    Task<ProjectQuota> ChangeAsync(
        string project, Func<QuotaSettings, QuotaSettings, QuotaSettings> change, string by, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>Quota settings in SQLite: one row per project with settings, NULL columns for limits it leaves to the default.</summary>
public sealed class QuotaStore(IStoreDatabase database) : IQuotaStore
{
    public IReadOnlyList<ProjectQuota> List() => database.Read(connection =>
    {
        using var command = Sql.Command(connection, null, QuotaRows.Select + " ORDER BY project");
        var rows = QuotaRows.ReadAll(command);
        var quotas = new List<ProjectQuota> { QuotaRows.Resolve(ProjectQuota.DefaultProject, rows) };
        quotas.AddRange(rows.Where(r => r.Project != ProjectQuota.DefaultProject).Select(r => QuotaRows.Resolve(r.Project, rows)));
        return quotas;
    });

    public Task<ProjectQuota> ChangeAsync(
        string project, Func<QuotaSettings, QuotaSettings, QuotaSettings> change, string by, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        database.WriteAsync((connection, transaction) =>
        {
            // Nothing reads a quota between this and the change below: writes run one at a time.
            database.Quotas?.Clear();
            var before = QuotaRows.Read(connection, transaction, project);
            var next = change(before.Own, before.Default);
            if (next.IsEmpty)
            {
                using var delete = Sql.Command(connection, transaction, "DELETE FROM quotas WHERE project = @project", ("@project", project));
                delete.ExecuteNonQuery();
                return before with { Own = next, UpdatedAt = null, UpdatedBy = string.Empty };
            }

            using var upsert = Sql.Command(
                connection, transaction,
                """
                INSERT INTO quotas (project, max_vcpus, max_memory_bytes, max_workspaces, core_hours_budget, period_seconds, max_lease_seconds, updated_at, updated_by)
                VALUES (@project, @vcpus, @memory, @workspaces, @budget, @period, @lease, @at, @by)
                ON CONFLICT (project) DO UPDATE SET
                    max_vcpus = excluded.max_vcpus, max_memory_bytes = excluded.max_memory_bytes, max_workspaces = excluded.max_workspaces,
                    core_hours_budget = excluded.core_hours_budget, period_seconds = excluded.period_seconds,
                    max_lease_seconds = excluded.max_lease_seconds, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """,
                ("@project", project), ("@vcpus", next.MaxVcpus), ("@memory", next.MaxMemoryBytes), ("@workspaces", next.MaxWorkspaces),
                ("@budget", next.CoreHours?.CoreHours), ("@period", next.CoreHours is { } b ? (long)b.Period.TotalSeconds : null),
                ("@lease", next.MaxLeaseDuration is { } d ? (long)d.TotalSeconds : null),
                ("@at", now.ToUnixTimeMilliseconds()), ("@by", by));
            upsert.ExecuteNonQuery();
            return before with { Own = next, UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()), UpdatedBy = by };
        }, cancellationToken);
}

/// <summary>Reads quota rows and resolves a project's quota from its row and the default's; shared by the stores.</summary>
internal static class QuotaRows
{
    public const string Select =
        "SELECT project, max_vcpus, max_memory_bytes, max_workspaces, core_hours_budget, period_seconds, max_lease_seconds, updated_at, updated_by FROM quotas";

    public sealed record Row(string Project, QuotaSettings Settings, DateTimeOffset UpdatedAt, string UpdatedBy);

    /// <summary>The project's quota in force, from its row and the default's, in one query.</summary>
    public static ProjectQuota Read(DbConnection connection, DbTransaction? transaction, string project)
    {
        using var command = Sql.Command(
            connection, transaction, Select + " WHERE project IN (@project, @default)", ("@project", project), ("@default", ProjectQuota.DefaultProject));
        return Resolve(project, ReadAll(command));
    }

    public static ProjectQuota Resolve(string project, IReadOnlyList<Row> rows)
    {
        var own = rows.FirstOrDefault(r => r.Project == project);
        var fallback = project == ProjectQuota.DefaultProject ? null : rows.FirstOrDefault(r => r.Project == ProjectQuota.DefaultProject);
        return new ProjectQuota(project, own?.Settings ?? QuotaSettings.None, fallback?.Settings ?? QuotaSettings.None)
        {
            UpdatedAt = own?.UpdatedAt,
            UpdatedBy = own?.UpdatedBy ?? string.Empty,
        };
    }

    public static List<Row> ReadAll(DbCommand command)
    {
        using var r = command.ExecuteReader();
        var rows = new List<Row>();
        while (r.Read())
        {
            var settings = new QuotaSettings
            {
                MaxVcpus = r.IsDBNull(1) ? null : r.GetInt32(1),
                MaxMemoryBytes = r.IsDBNull(2) ? null : r.GetInt64(2),
                MaxWorkspaces = r.IsDBNull(3) ? null : r.GetInt32(3),
                CoreHours = r.IsDBNull(4) ? null : new CoreHoursBudget(r.GetDouble(4), TimeSpan.FromSeconds(r.GetInt64(5))),
                MaxLeaseDuration = r.IsDBNull(6) ? null : TimeSpan.FromSeconds(r.GetInt64(6)),
            };
            rows.Add(new Row(r.GetString(0), settings, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)), r.GetString(8)));
        }

        return rows;
    }
}
