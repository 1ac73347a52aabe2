using System.Globalization;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>What quota admission reads in the lease transaction: a project's quota, live use and core-hours, one query each.</summary>
public sealed partial class SqliteLeaseStore
{
    private sealed partial class Session
    {
        /// <summary>
        /// Which leases are a project's. Until leases carry a project (issue 11), a lease's project is its owner, as
        /// <see cref="Quotas.QuotaAdmission.ProjectOf"/> says; the (owner, request_id) index serves it.
        /// </summary>
        private const string OfProject = "owner = $project";

        /// <summary>Where a lease's charged time ends: its expiry, or when it ended or failed if that was earlier.</summary>
        private const string ChargedUntil = "CASE WHEN state IN ('ended', 'failed') THEN MIN(updated_at, expires_at) ELSE expires_at END";

        public ProjectQuota QuotaOf(string project) => QuotaRows.Read(connection, transaction, project);

        public ProjectUse LiveUseOf(string project)
        {
            using var command = Command(
                $"SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_bytes), 0) FROM leases WHERE {OfProject} AND state NOT IN ('ended', 'failed')",
                ("$project", project));
            using var r = command.ExecuteReader();
            r.Read();
            return new ProjectUse(r.GetInt32(0), r.GetInt64(1), r.GetInt64(2), 0);
        }

        public long VcpuMillisecondsOf(string project, DateTimeOffset from, DateTimeOffset until)
        {
            using var command = Command(
                $"SELECT COALESCE(SUM(vcpus * MAX(0, MIN({ChargedUntil}, $to) - MAX(created_at, $from))), 0) " +
                $"FROM leases WHERE {OfProject} AND created_at < $to AND expires_at > $from",
                ("$project", project), ("$from", from.ToUnixTimeMilliseconds()), ("$to", until.ToUnixTimeMilliseconds()));
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
