namespace NodeAgent.Scheduler.Store.Postgres;

/// <summary>
/// Parameter values as PostgreSQL's columns take them. Npgsql sends a <c>uint</c> as an <c>oid</c>, which no column of
/// the schema is and none converts from, so unsigned values go as the signed type one size up; null is SQL NULL.
/// </summary>
internal static class PostgresValues
{
    public static object ToParameter(object? value) => value switch
    {
        null => DBNull.Value,
        uint u => (long)u,
        ushort s => (int)s,
        ulong l => checked((long)l),
        _ => value,
    };
}
