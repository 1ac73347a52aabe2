using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// Prepared statements kept per connection, by their SQL text. A command taken from the cache is the caller's until
/// it disposes it, which puts it back (its statement stays prepared; its parameters are cleared on the next take);
/// a statement already out (a query run while its own reader is open) gets a fresh command instead. A connection
/// is used by one thread at a time (<see cref="SqliteDatabase"/>), and so is its cache.
/// </summary>
internal static class StatementCache
{
    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, CachedCommand>> Caches = [];

    public static void Attach(SqliteConnection connection) => Caches.AddOrUpdate(connection, new Dictionary<string, CachedCommand>(StringComparer.Ordinal));

    /// <summary>Finalizes the connection's statements; call before closing it.</summary>
    public static void Detach(SqliteConnection connection)
    {
        if (Caches.TryGetValue(connection, out var commands))
        {
            foreach (var command in commands.Values)
            {
                command.Release();
            }

            Caches.Remove(connection);
        }
    }

    /// <summary>The cached command for <paramref name="sql"/>, ready for new parameters; null on a connection without a cache.</summary>
    public static SqliteCommand? Take(SqliteConnection connection, string sql)
    {
        if (!Caches.TryGetValue(connection, out var commands))
        {
            return null;
        }

        if (!commands.TryGetValue(sql, out var command))
        {
            command = new CachedCommand { Connection = connection, CommandText = sql };
            commands[sql] = command;
        }
        else if (command.Out)
        {
            return null;
        }

        command.Out = true;
        command.Parameters.Clear();
        return command;
    }

    private sealed class CachedCommand : SqliteCommand
    {
        private bool _released;

        public bool Out { get; set; }

        public void Release()
        {
            _released = true;
            Dispose();
        }

        protected override void Dispose(bool disposing)
        {
            if (_released || !disposing)
            {
                base.Dispose(disposing);
                return;
            }

            Out = false;
        }
    }
}
