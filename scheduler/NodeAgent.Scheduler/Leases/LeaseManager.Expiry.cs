using Microsoft.Extensions.Logging;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Leases;

/// <summary>
/// How a lease ends when its time is up, in two stages as Nimbus did it: a warning <see cref="Warning"/> before the
/// end, then at the end a graceful stop (the guest is asked to shut down; its disks stay, so the owner can still
/// `ws save` or `ws extend`), and <see cref="Grace"/> later the workspace is destroyed.
/// </summary>
public sealed record LeaseExpiryPolicy(TimeSpan Warning, TimeSpan Grace)
{
    public static readonly LeaseExpiryPolicy Default = new(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(2));

    /// <summary>When the workspace of a lease ending at <paramref name="expiresAt"/> is destroyed.</summary>
    public DateTimeOffset DestroyAt(DateTimeOffset expiresAt) =>
        expiresAt >= DateTimeOffset.MaxValue - Grace ? DateTimeOffset.MaxValue : expiresAt + Grace;
}

/// <summary>Expiry: the warning, the graceful stop at the end, and the destruction after the grace.</summary>
public sealed partial class LeaseManager
{
    // Leases warned since this scheduler started; a restart may warn a lease a second time, never not at all.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<LeaseId, DateTimeOffset> _warned = new();

    /// <summary>The policy in force; a reload replaces it, and the next expiry pass and desired sets use the new one.</summary>
    public LeaseExpiryPolicy Expiry
    {
        get => Volatile.Read(ref _expiry);
        set => Volatile.Write(ref _expiry, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>
    /// One expiry pass: warns leases ending within <see cref="LeaseExpiryPolicy.Warning"/>, stops the running guests
    /// of leases whose time is up, and removes the workspaces whose grace is over (a save in progress is waited for).
    /// Returns how many leases it moved.
    /// </summary>
    public async Task<int> ExpireDueAsync(CancellationToken cancellationToken)
    {
        var now = Now();
        var moved = 0;
        var expiry = Expiry;
        foreach (var lease in store.Read(s => s.DueForExpiry(now + expiry.Warning)))
        {
            if (lease.ExpiresAt > now)
            {
                // Only a workspace on a host is warned: a queued lease's end is when it gives up waiting.
                var placed = lease.State is LeaseState.Starting or LeaseState.Running or LeaseState.Stopped or LeaseState.Paused;
                moved += placed && await WarnAsync(lease, now, cancellationToken) ? 1 : 0;
            }
            else if (expiry.DestroyAt(lease.ExpiresAt) <= now || lease.State is LeaseState.Pending or LeaseState.Placing)
            {
                if (lease.Save is not { State: SaveState.Saving })
                {
                    await StopAsync(lease.Id, $"expired at {lease.ExpiresAt:u}", cancellationToken);
                    moved++;
                }
            }
            else
            {
                moved += await StopGuestAsync(lease.Id, now, cancellationToken) ? 1 : 0;
            }
        }

        return moved;
    }

    private async Task<bool> WarnAsync(Lease due, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_warned.TryGetValue(due.Id, out var warnedFor) && warnedFor == due.ExpiresAt)
        {
            return false;
        }

        var reason = $"{due.Reason.Split(" — expires", 2)[0]} — expires {due.ExpiresAt:u} (in {Minutes(due.ExpiresAt - now)}): the guest is then shut down " +
            $"and destroyed {Minutes(_expiry.Grace)} later; `ws extend {due.Id} --by 1h` keeps it";
        var warned = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(due.Id);
            if (lease is null || lease.IsTerminal || lease.ExpiresAt != due.ExpiresAt)
            {
                return null;
            }

            var next = lease with { Reason = reason, UpdatedAt = now };
            session.Update(next);
            return next;
        }, cancellationToken);
        _warned[due.Id] = due.ExpiresAt;
        if (warned is null)
        {
            return false;
        }

        metrics?.ExpiryWarnings.Inc();
        LogWarned(logger, warned.Id.Value, warned.Owner, warned.ExpiresAt);
        Changed(warned);
        return true;
    }

    /// <summary>The first stage at the end: a running guest is asked to shut down; its disks stay for the grace.</summary>
    private async Task<bool> StopGuestAsync(LeaseId id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stopped = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(id);
            if (lease is not { State: LeaseState.Running, Power: PowerState.Running } || LeasePower.InProgress(lease) is not null || lease.ExpiresAt > now)
            {
                return null;
            }

            var next = lease with
            {
                Power = PowerState.Stopped,
                Reason = $"expired at {lease.ExpiresAt:u}: the guest is shut down on {lease.Host}, and destroyed at {_expiry.DestroyAt(lease.ExpiresAt):u}; " +
                    $"`ws save {id} --as NAME` keeps its disk, `ws extend {id} --by 1h` the workspace",
                UpdatedAt = now,
            };
            session.Update(next);
            session.BumpDesiredVersion(next.Host!.Value);
            return next;
        }, cancellationToken);
        if (stopped is null)
        {
            return false;
        }

        var destroyAt = _expiry.DestroyAt(stopped.ExpiresAt);
        LogExpiryStop(logger, stopped.Id.Value, stopped.Host!.Value.Value, destroyAt);
        Changed(stopped);
        return true;
    }

    private static string Minutes(TimeSpan span) =>
        span >= TimeSpan.FromMinutes(1) ? $"{Math.Ceiling(span.TotalMinutes):0} min" : $"{Math.Ceiling(span.TotalSeconds):0} s";

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "Lease {LeaseId} of {Owner} warned: it expires at {ExpiresAt}")]
    private static partial void LogWarned(ILogger logger, string leaseId, string owner, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 306, Level = LogLevel.Information, Message = "Lease {LeaseId} expired: its guest on {HostId} is shut down; destroyed at {DestroyAt}")]
    private static partial void LogExpiryStop(ILogger logger, string leaseId, string hostId, DateTimeOffset destroyAt);
}
