using System.Globalization;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>What quota admission reads in the lease transaction: a project's quota, live use and core-hours, one query each.</summary>
public sealed partial class LeaseStore
{
    private sealed partial class Session
    {
        /// <summary>Which leases are a project's (<see cref="Lease.Project"/>); the (project, created_at, lease_id) index of schema step 21 serves it.</summary>
        private const string OfProject = "project = @project";

        /// <summary>Where a lease's charged time ends: its expiry, or when it ended or failed if that was earlier.</summary>
        private string ChargedUntil => $"CASE WHEN state IN ('ended', 'failed') THEN {sql.Least("updated_at", "expires_at")} ELSE expires_at END";

        /// <summary>The quotas this session read, by project: a lease write changes no quota, so a group's members read it once.</summary>
        private readonly Dictionary<string, ProjectQuota> _quotas = new(StringComparer.Ordinal);

        /// <remarks>
        /// A write that reads a project's quota is admitting a lease against it: when the quota limits anything, the next
        /// such write of the project waits for it (with replicas), and reads the use this one adds. A project without
        /// limits admits everything, and its writes need not wait for one another.
        /// </remarks>
        public ProjectQuota QuotaOf(string project)
        {
            if (_quotas.TryGetValue(project, out var known) || quotas?.TryGet(project, out known) == true)
            {
                return known;
            }

            var quota = QuotaRows.Read(connection, transaction, project);
            quotas?.Put(quota);
            if (sql.Replicated && transaction is not null && !(quota.Own.IsEmpty && quota.Default.IsEmpty))
            {
                sql.Serialize(connection, transaction, "quota:" + project);
                quota = QuotaRows.Read(connection, transaction, project);
            }

            _quotas[project] = quota;
            return quota;
        }

        public ProjectUse LiveUseOf(string project)
        {
            using var command = Command(
                "SELECT CAST(COUNT(*) AS INTEGER), CAST(COALESCE(SUM(vcpus), 0) AS BIGINT), CAST(COALESCE(SUM(memory_bytes), 0) AS BIGINT) " +
                $"FROM leases WHERE {OfProject} AND state NOT IN ('ended', 'failed')",
                ("@project", project));
            using var r = command.ExecuteReader();
            r.Read();
            return new ProjectUse(r.GetInt32(0), r.GetInt64(1), r.GetInt64(2), 0);
        }

        public long VcpuMillisecondsOf(string project, DateTimeOffset from, DateTimeOffset until)
        {
            var charged = sql.Greatest("0", $"{sql.Least(ChargedUntil, "@to")} - {sql.Greatest("created_at", "@from")}");
            using var command = Command(
                $"SELECT CAST(COALESCE(SUM(vcpus * {charged}), 0) AS BIGINT) " +
                $"FROM leases WHERE {OfProject} AND created_at < @to AND expires_at > @from",
                ("@project", project), ("@from", from.ToUnixTimeMilliseconds()), ("@to", until.ToUnixTimeMilliseconds()));
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
