using Microsoft.Extensions.Logging;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Leases;

/// <summary>Power actions: the owner's stop, start, reboot, pause and resume of a lease's workspace.</summary>
public sealed partial class LeaseManager
{
    /// <summary>
    /// Records the power state the owner wants (or one more reboot) and hands it to the lease's host with a new
    /// desired-set version, in one transaction. The lease's state follows when the agent reports the result.
    /// Asking for what is already wanted changes nothing and returns the lease as it is.
    /// </summary>
    /// <exception cref="LeaseNotFoundException">No such lease.</exception>
    /// <exception cref="LeaseStateException">The action does not fit the lease's state; the message says what would.</exception>
    public async Task<Lease> SetPowerAsync(LeaseId id, PowerAction action, CancellationToken cancellationToken)
    {
        var now = Now();
        var (before, after) = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(id) ?? throw new LeaseNotFoundException(id);
            LeaseSaving.CheckPower(lease, action);
            var next = LeasePower.Apply(lease, action, now);
            if (ReferenceEquals(next, lease))
            {
                return (lease, lease);
            }

            session.Update(next);
            session.BumpDesiredVersion(next.Host!.Value);
            return (lease, next);
        }, cancellationToken);

        if (!ReferenceEquals(before, after))
        {
            LogPowerAsked(logger, after.Id.Value, action, after.Host!.Value.Value, after.Power, after.RebootsRequested);
            Changed(after);
        }

        return after;
    }

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Lease {LeaseId}: its owner asked for {Action} on {HostId} (power wanted {Power}, reboots asked {RebootsRequested})")]
    private static partial void LogPowerAsked(ILogger logger, string leaseId, PowerAction action, string hostId, PowerState power, long rebootsRequested);
}
