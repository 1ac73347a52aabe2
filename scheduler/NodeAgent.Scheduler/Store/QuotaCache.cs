using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Store;

/// <summary>
/// The quotas the one writer has read, by project, kept from one write to the next: admitting a lease then reads no
/// quota row. Only an engine with a single writer has one (<see cref="IStoreDatabase.Quotas"/>, SQLite): there every
/// change to a quota goes through that writer, which forgets them all when it makes one, and again when a batch of
/// writes fails to commit (what it read inside the batch may be gone). Used by the writer alone, as its connection is.
/// </summary>
public sealed class QuotaCache
{
    private readonly Dictionary<string, ProjectQuota> _quotas = new(StringComparer.Ordinal);

    public bool TryGet(string project, out ProjectQuota quota) => _quotas.TryGetValue(project, out quota!);

    public void Put(ProjectQuota quota) => _quotas[quota.Project] = quota;

    public void Clear() => _quotas.Clear();
}
