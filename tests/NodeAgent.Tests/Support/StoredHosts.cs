using Microsoft.Data.Sqlite;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Tests.Support;

/// <summary>The hosts' rows as an SQLite file stores them, read on a connection of their own, past any cache.</summary>
internal static class StoredHosts
{
    public static List<HostRecord> Read(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = HostRows.Select(SqlDialect.Sqlite) + " ORDER BY h.host_id";
        return HostRows.ReadAll(command);
    }
}
