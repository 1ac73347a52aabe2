using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Hosts;

/// <summary>Admin states: operators' enable, disable and drain, and a drain's own completion or failure.</summary>
public sealed partial class HostRegistry
{
    /// <summary>How often an operator's change is tried again when the state changed between reading and writing it.</summary>
    private const int AdminAttempts = 5;

    /// <summary>
    /// Applies an operator's action to the host's admin state (see <see cref="HostAdminStateMachine"/>) and returns
    /// the host as changed. Workspaces on the host are not touched. When the state changes meanwhile (a drain
    /// completes), the action is checked again against the new state.
    /// </summary>
    /// <exception cref="HostNotFoundException">The host is not registered.</exception>
    /// <exception cref="HostAdminStateException">The host's state does not allow the action.</exception>
    public async Task<HostRecord> SetAdminAsync(HostId id, HostAdminAction action, DateTimeOffset? deadline, string reason, string by, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var host = Get(id);
            var next = HostAdminStateMachine.Apply(id, host.Admin, action, deadline is { } due ? Milliseconds(due) : null, reason, by, Now());
            if (await store.SetAdminAsync(id, host.Admin, next, cancellationToken))
            {
                LogAdminChanged(logger, id.Value, host.Admin.State, next.State, by, reason);
                return host with { Admin = next };
            }

            if (attempt == AdminAttempts)
            {
                throw new StoreException($"the admin state of host {id} kept changing while it was being set; run the command again");
            }
        }
    }

    /// <summary>
    /// Moves a draining host on, as read in <paramref name="host"/>: drained when no lease holds capacity on it,
    /// drain-failed once its deadline has come. Returns the new admin state, or null when the drain goes on or an
    /// operator changed the host's state since it was read (the operator's change stands).
    /// </summary>
    public async Task<HostAdmin?> AdvanceDrainAsync(HostRecord host, CancellationToken cancellationToken)
    {
        var next = HostAdminStateMachine.Progress(host.Admin, store.LeasesHoldingCapacity(host.Id), Now());
        return next is not null && await store.SetAdminAsync(host.Id, host.Admin, next, cancellationToken) ? next : null;
    }

    /// <summary>The time at the precision the store keeps (milliseconds), so what is returned equals what is read back.</summary>
    private DateTimeOffset Now() => Milliseconds(time.GetUtcNow());

    private static DateTimeOffset Milliseconds(DateTimeOffset at) => at.AddTicks(-(at.Ticks % TimeSpan.TicksPerMillisecond));

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Host {HostId}: admin state {From} → {To} by {ChangedBy} ({Reason})")]
    private static partial void LogAdminChanged(ILogger logger, string hostId, HostAdminState from, HostAdminState to, string changedBy, string reason);
}
