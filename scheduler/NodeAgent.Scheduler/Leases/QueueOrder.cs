using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// The order in which one pass over the best-effort queue tries leases: fair share across projects, first in
/// first out within a project. Each turn goes to the project whose leases hold the fewest vCPUs now (ties: the
/// project whose next lease arrived first), and that project's next lease is tried. A lease that is placed
/// adds its vCPUs to its project's share; one that does not fit ends its project's turns for this pass, so its
/// project's later leases wait behind it (FIFO) while other projects go on. Built from the queue as the store
/// orders it (arrival order, a stored column), so the order is the same after a restart.
/// </summary>
public sealed class QueueOrder
{
    private readonly Dictionary<string, Queue<Lease>> _byProject;
    private readonly Dictionary<string, long> _held;
    private readonly Dictionary<LeaseId, int> _arrival = [];

    /// <param name="queued">The waiting best-effort leases, first in first (<see cref="Store.ILeaseSession.Queued"/>).</param>
    /// <param name="heldVcpus">The vCPUs each project's leases hold now.</param>
    public QueueOrder(IEnumerable<Lease> queued, IReadOnlyDictionary<string, long> heldVcpus)
    {
        var leases = queued.ToList();
        for (var i = 0; i < leases.Count; i++)
        {
            _arrival[leases[i].Id] = i;
        }

        _byProject = leases.GroupBy(l => l.Project, StringComparer.Ordinal).ToDictionary(g => g.Key, g => new Queue<Lease>(g), StringComparer.Ordinal);
        _held = new Dictionary<string, long>(heldVcpus, StringComparer.Ordinal);
    }

    /// <summary>The lease to try next, or null when every project's turns are over.</summary>
    public Lease? Next()
    {
        Lease? next = null;
        foreach (var (project, leases) in _byProject)
        {
            var head = leases.Peek();
            if (next is null || Before(project, head, next))
            {
                next = head;
            }
        }

        return next;
    }

    /// <summary>The lease <see cref="Next"/> gave was placed: its project's share grows and its next lease comes up.</summary>
    public void Placed(Lease lease)
    {
        Dropped(lease);
        _held[lease.Project] = _held.GetValueOrDefault(lease.Project) + lease.Resources.Vcpus;
    }

    /// <summary>The lease <see cref="Next"/> gave leaves the queue without a host (it failed or its wait is over): its project's next lease comes up.</summary>
    public void Dropped(Lease lease)
    {
        var leases = _byProject[lease.Project];
        leases.Dequeue();
        if (leases.Count == 0)
        {
            _byProject.Remove(lease.Project);
        }
    }

    /// <summary>The lease <see cref="Next"/> gave does not fit now: its project has no more turns in this pass.</summary>
    public void Blocked(Lease lease) => _byProject.Remove(lease.Project);

    /// <summary>Each waiting lease's place in its project's queue, from 1; <paramref name="queued"/> is first in first.</summary>
    public static IReadOnlyDictionary<LeaseId, int> Positions(IEnumerable<Lease> queued)
    {
        var positions = new Dictionary<LeaseId, int>();
        foreach (var project in queued.GroupBy(l => l.Project, StringComparer.Ordinal))
        {
            var position = 0;
            foreach (var lease in project)
            {
                positions[lease.Id] = ++position;
            }
        }

        return positions;
    }

    private bool Before(string project, Lease head, Lease other)
    {
        var mine = _held.GetValueOrDefault(project);
        var theirs = _held.GetValueOrDefault(other.Project);
        return mine != theirs ? mine < theirs : _arrival[head.Id] < _arrival[other.Id];
    }
}
