using System.Diagnostics;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Cli.Commands;

/// <summary>Follows a lease through <c>WatchLease</c> for the commands that wait, printing each step to stderr.</summary>
internal static class LeaseFollower
{
    /// <summary>
    /// Follows the lease's changes until <paramref name="settled"/> says so or the lease ends, and returns it as
    /// last seen. Gives up after <paramref name="limit"/> with DEADLINE_EXCEEDED; the lease carries on regardless.
    /// </summary>
    public static async Task<Lease> FollowAsync(CommandContext context, Lease lease, Func<Lease, bool> settled, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        var progress = Console.Error;
        var last = (lease.State, lease.StateReason, lease.QueuePosition);
        await progress.WriteLineAsync(Line(clock, lease));
        var options = CallOptions.WithTimeout(limit, context.CancellationToken);
        try
        {
            await foreach (var update in new LeaseServiceClient(context.Channel).WatchLeaseAsync(new GetLeaseRequest { Id = lease.Id }, options))
            {
                lease = update;
                if ((lease.State, lease.StateReason, lease.QueuePosition) != last)
                {
                    last = (lease.State, lease.StateReason, lease.QueuePosition);
                    await progress.WriteLineAsync(Line(clock, lease));
                }

                if (settled(lease) || lease.State is LeaseState.Failed or LeaseState.Ended)
                {
                    break;
                }
            }
        }
        catch (RpcException e) when (e.Status == StatusCode.DeadlineExceeded)
        {
            throw new RpcException(StatusCode.DeadlineExceeded,
                $"lease {lease.Id} is still {LeaseView.StateLabel(lease)} after {Minutes(limit)} ({lease.StateReason}); it continues — follow it with `ws show {lease.Id}`");
        }

        return lease;
    }

    /// <summary>"  12.0s  queued    2nd in project alice's queue; waiting: no host can take it: 1 host: insufficient vCPUs".</summary>
    private static string Line(Stopwatch clock, Lease lease) =>
        $"{clock.Elapsed.TotalSeconds,6:0.0}s  {LeaseView.StateLabel(lease),-9} " +
        (lease.QueuePosition > 0 ? LeaseView.QueuePlace(lease) + "; " : string.Empty) + lease.StateReason;

    private static string Minutes(TimeSpan limit) => limit.TotalMinutes >= 1 ? $"{limit.TotalMinutes:0.#} minutes" : $"{limit.TotalSeconds:0.#} seconds";
}
