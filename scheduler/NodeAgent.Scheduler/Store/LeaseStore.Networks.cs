using System.Globalization;
using System.Net;
using System.Text.Json;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>A lease's NICs (lease_networks) and the address reservations of every network (addresses).</summary>
public sealed partial class LeaseStore
{
    private sealed partial class Session
    {
        private const string AddressColumns = "network, address, lease_id, mac, state, quarantined_until";

        public IReadOnlyList<AddressReservation> AddressesOn(string network)
        {
            // A write that reads a network's addresses is about to assign one: the next such write waits for it.
            sql.Serialize(connection, transaction, "addresses:" + network);
            using var command = Command($"SELECT {AddressColumns} FROM addresses WHERE network = @network", ("@network", network));
            using var r = command.ExecuteReader();
            var reservations = new List<AddressReservation>();
            while (r.Read())
            {
                reservations.Add(new AddressReservation(
                    r.GetString(0),
                    ParseAddress(r.GetString(1)),
                    LeaseId.Parse(r.GetString(2)),
                    r.GetString(3),
                    r.GetString(4) == "assigned" ? AddressState.Assigned : AddressState.Quarantined,
                    r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))));
            }

            return reservations;
        }

        public bool MacInUse(string mac)
        {
            using var command = Command("SELECT EXISTS (SELECT 1 FROM addresses WHERE mac = @mac)", ("@mac", mac));
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) != 0;
        }

        public void Reserve(AddressReservation reservation) => Execute(
            $"INSERT INTO addresses ({AddressColumns}) VALUES (@network, @address, @lease, @mac, @state, @until)",
            ("@network", reservation.Network), ("@address", reservation.Address.ToString()), ("@lease", reservation.Lease.Value),
            ("@mac", reservation.Mac), ("@state", reservation.State == AddressState.Assigned ? "assigned" : "quarantined"),
            ("@until", reservation.QuarantinedUntil?.ToUnixTimeMilliseconds()));

        public int ForgetExpiredQuarantine(string network, DateTimeOffset now) => Execute(
            "DELETE FROM addresses WHERE network = @network AND state = 'quarantined' AND quarantined_until <= @now",
            ("@network", network), ("@now", now.ToUnixTimeMilliseconds()));

        public int Quarantine(LeaseId lease, DateTimeOffset until) => Execute(
            "UPDATE addresses SET state = 'quarantined', quarantined_until = @until WHERE lease_id = @lease AND state = 'assigned'",
            ("@lease", lease.Value), ("@until", until.ToUnixTimeMilliseconds()));

        private void InsertNetworks(Lease lease)
        {
            for (var position = 0; position < lease.Networks.Count; position++)
            {
                var nic = lease.Networks[position];
                Execute(
                    """
                    INSERT INTO lease_networks (lease_id, position, network, mac, address, prefix_length, gateway, dns_servers)
                    VALUES (@lease, @position, @network, @mac, @address, @prefix, @gateway, @dns)
                    """,
                    ("@lease", lease.Id.Value), ("@position", position), ("@network", nic.Network), ("@mac", nic.Mac),
                    ("@address", nic.Address.ToString()), ("@prefix", nic.PrefixLength), ("@gateway", nic.Gateway?.ToString() ?? string.Empty),
                    ("@dns", JsonSerializer.Serialize(nic.DnsServers.Select(d => d.ToString()).ToList(), StoreJson.Default.ListString)));
            }
        }

        /// <summary>Adds their NICs to leases just read, in one query for all of them.</summary>
        private List<Lease> WithNetworks(List<Lease> leases)
        {
            if (leases.Count == 0)
            {
                return leases;
            }

            var ids = JsonSerializer.Serialize(leases.Select(l => l.Id.Value).ToList(), StoreJson.Default.ListString);
            using var command = Command(
                $"""
                SELECT lease_id, network, mac, address, prefix_length, gateway, dns_servers FROM lease_networks
                WHERE lease_id IN (SELECT value FROM {sql.JsonStrings("@ids")}) ORDER BY lease_id, position
                """,
                ("@ids", ids));
            using var r = command.ExecuteReader();
            var nics = new Dictionary<string, List<NetworkAttachment>>(StringComparer.Ordinal);
            while (r.Read())
            {
                var dns = JsonSerializer.Deserialize(r.GetString(6), StoreJson.Default.ListString) ?? [];
                var gateway = r.GetString(5);
                var nic = new NetworkAttachment(
                    r.GetString(1), r.GetString(2), ParseAddress(r.GetString(3)), r.GetInt32(4),
                    gateway.Length == 0 ? null : ParseAddress(gateway), new ValueList<IPAddress>(dns.Select(ParseAddress)));
                if (!nics.TryGetValue(r.GetString(0), out var list))
                {
                    nics[r.GetString(0)] = list = [];
                }

                list.Add(nic);
            }

            return nics.Count == 0 ? leases : leases.Select(l => nics.TryGetValue(l.Id.Value, out var list) ? l with { Networks = new(list) } : l).ToList();
        }

        private static IPAddress ParseAddress(string text) =>
            NetworkSyntax.TryParseIPv4(text, out var address) ? address : throw new StoreException($"'{IdSyntax.Printable(text)}' in the database is not an IPv4 address");
    }
}
