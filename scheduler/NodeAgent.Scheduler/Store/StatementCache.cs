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

    /// <summary>Each connection's <see cref="DirectStatement"/>s; null for SQL that is not one statement.</summary>
    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, DirectStatement?>> Directs = [];

    public static void Attach(SqliteConnection connection)
    {
        Caches.AddOrUpdate(connection, new Dictionary<string, CachedCommand>(StringComparer.Ordinal));
        Directs.AddOrUpdate(connection, new Dictionary<string, DirectStatement?>(StringComparer.Ordinal));
    }

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

        if (Directs.TryGetValue(connection, out var directs))
        {
            foreach (var direct in directs.Values)
            {
                direct?.Dispose();
            }

            Directs.Remove(connection);
        }
    }

    /// <summary>
    /// The connection's <see cref="DirectStatement"/> for <paramref name="sql"/>, prepared on first use; null on a
    /// connection without a cache, or for SQL of several statements.
    /// </summary>
    public static DirectStatement? TakeDirect(SqliteConnection connection, string sql)
    {
        if (!Directs.TryGetValue(connection, out var directs))
        {
            return null;
        }

        if (!directs.TryGetValue(sql, out var direct))
        {
            direct = DirectStatement.Prepare(connection, sql);
            directs[sql] = direct;
        }

        return direct;
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
