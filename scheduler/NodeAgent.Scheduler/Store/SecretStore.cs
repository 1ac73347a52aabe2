namespace NodeAgent.Scheduler.Store;

/// <summary>Secrets every replica shares (schema step 22): made by whichever replica needs one first, then read by all.</summary>
public sealed class SecretStore(IStoreDatabase database)
{
    /// <summary>The secret called <paramref name="name"/>; when there is none yet, <paramref name="make"/>'s value is stored and returned.</summary>
    public Task<byte[]> GetOrCreateAsync(string name, Func<byte[]> make, CancellationToken cancellationToken = default)
    {
        var fresh = make();
        return database.WriteAsync((connection, transaction) =>
        {
            Sql.Execute(connection, transaction, "INSERT INTO secrets (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING",
                ("@name", name), ("@value", fresh));
            using var command = Sql.Command(connection, transaction, "SELECT value FROM secrets WHERE name = @name", ("@name", name));
            return (byte[])command.ExecuteScalar()!;
        }, cancellationToken);
    }
}
