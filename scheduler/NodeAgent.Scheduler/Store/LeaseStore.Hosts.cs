using System.Collections;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Hosts as a lease session sees them: from <see cref="HostCache"/>, except those the session has changed (a lease
/// placed on or moved off it, its desired set bumped), which are read in the transaction, so a second placement in
/// one transaction sees the first one's claim.
/// </summary>
public sealed partial class SqliteLeaseStore
{
    private sealed partial class Session
    {
        private readonly HashSet<HostId> _changed = [];
        private readonly Dictionary<HostId, HostRecord> _read = [];

        public IReadOnlyList<HostRecord> Hosts() => _changed.Count == 0 ? hosts.All() : new Overlay(hosts.All(), this);

        public HostRecord? FindHost(HostId host) => _changed.Contains(host) ? Read(host) : hosts.Find(host);

        public long BumpDesiredVersion(HostId host)
        {
            Touch(host);
            using var command = Command("UPDATE hosts SET desired_version = desired_version + 1 WHERE host_id = $id RETURNING desired_version", ("$id", host.Value));
            return Convert.ToInt64(command.ExecuteScalar() ?? throw new StoreException($"host {host} is not in the database"), System.Globalization.CultureInfo.InvariantCulture);
        }

        /// <summary>The rows of the hosts this session changed, as committed if the transaction commits.</summary>
        public List<HostRecord> ChangedHosts() => _changed.Select(Read).ToList();

        private void Touch(HostId? host)
        {
            if (host is { } id)
            {
                _changed.Add(id);
                _read.Remove(id);
            }
        }

        private HostId? HostOf(LeaseId lease)
        {
            using var command = Command("SELECT host_id FROM leases WHERE lease_id = $id", ("$id", lease.Value));
            return command.ExecuteScalar() is string host ? HostId.Parse(host) : null;
        }

        private HostRecord Read(HostId host)
        {
            if (!_read.TryGetValue(host, out var record))
            {
                record = HostRows.ReadOne(connection, transaction, host);
                _read[host] = record;
            }

            return record;
        }

        /// <summary>The cached hosts with the changed ones as this transaction sees them.</summary>
        private sealed class Overlay(IReadOnlyList<HostRecord> cached, Session session) : IReadOnlyList<HostRecord>
        {
            public int Count => cached.Count;

            public HostRecord this[int index] => cached[index] is var host && session._changed.Contains(host.Id) ? session.Read(host.Id) : host;

            public IEnumerator<HostRecord> GetEnumerator()
            {
                for (var i = 0; i < Count; i++)
                {
                    yield return this[i];
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }
}
