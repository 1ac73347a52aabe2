using System.Diagnostics;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Cli.Commands;

/// <summary>
/// Several leases at once: `ws lease --count N` (one CreateLeases request, placed whole or not at all) and `ws release`
/// of several leases or a group. The leases are followed together, and a line on stderr says how many are in each state
/// whenever that changes.
/// </summary>
internal static class LeaseGroups
{
    /// <summary>At most this many leases are watched at once; the others wait their turn.</summary>
    private const int Watches = 32;

    /// <summary>The most leases `ws lease --count` asks for (the scheduler's limit).</summary>
    public const uint MaxCount = 1000;

    /// <summary>
    /// Leases <paramref name="count"/> workspaces of <paramref name="request"/> as one group and, unless
    /// <paramref name="wait"/> is false or they are reservations, waits until every one runs; prints the group.
    /// </summary>
    public static async Task LeaseAsync(CommandContext context, CreateLeaseRequest request, uint count, bool wait, TimeSpan limit)
    {
        var response = await new LeaseServiceClient(context.Channel).CreateLeasesAsync(new CreateLeasesRequest { Lease = request, Count = count }, context.Call);
        if (request.DryRun)
        {
            context.Write(response, () => string.Concat(response.Leases.Select(l => l.StateReason).Distinct().Select(r => r + "\n")));
            if (response.Leases.Any(l => l.HostId.Length == 0))
            {
                throw new RpcException(StatusCode.FailedPrecondition, "the group cannot be placed now; see the reason above");
            }

            return;
        }

        var leases = response.Leases.ToList();
        var label = "group " + response.Group;
        if (wait && request.Kind != LeaseKind.Reservation && !leases.All(l => IsSettled(l, LeaseState.Running)))
        {
            leases = await FollowAsync(context, label, leases, l => IsSettled(l, LeaseState.Running), limit);
        }

        var shown = new CreateLeasesResponse { Group = response.Group, Leases = { leases } };
        context.Write(shown, () => $"Group {response.Group}: {LeaseView.Tally(leases)}\n" + LeaseView.RenderList(leases));
        ThrowIfAnyEnded(label, leases);
    }

    /// <summary>
    /// Releases <paramref name="ids"/> and, with <paramref name="group"/>, every live lease of that group; unless
    /// <paramref name="wait"/> is false, waits until every workspace is removed. Prints the leases.
    /// </summary>
    public static async Task ReleaseAsync(CommandContext context, IReadOnlyList<string> ids, string? group, bool wait)
    {
        var client = new LeaseServiceClient(context.Channel);
        var targets = ids.ToList();
        if (group is not null)
        {
            var members = await ListGroupAsync(client, group, context.Call);
            if (members.Count == 0)
            {
                throw new RpcException(StatusCode.NotFound, $"group {group} has no lease of yours; `ws list --all` shows each lease's group");
            }

            targets.AddRange(members.Where(l => l.State is not (LeaseState.Ended or LeaseState.Failed)).Select(l => l.Id).Except(targets));
        }

        var released = new List<Lease>(targets.Count);
        foreach (var id in targets)
        {
            released.Add(await client.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = id }, context.Call));
        }

        var label = group is not null ? "group " + group : $"{released.Count} leases";
        if (wait && !released.All(l => IsSettled(l, LeaseState.Ended)))
        {
            released = await FollowAsync(context, label, released, l => IsSettled(l, LeaseState.Ended), TimeSpan.FromMinutes(5));
        }

        var response = new ListLeasesResponse { Leases = { released } };
        context.Write(response, () => (released.Count == 0 ? $"{label}: every lease has already ended\n" : LeaseView.RenderList(released)));
    }

    /// <summary>Every lease of the group the caller may see, ended ones included.</summary>
    public static async Task<List<Lease>> ListGroupAsync(LeaseServiceClient client, string group, CallOptions call)
    {
        var leases = new List<Lease>();
        var token = string.Empty;
        do
        {
            var page = await client.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true, Group = group, PageSize = 1000, PageToken = token }, call);
            leases.AddRange(page.Leases);
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return leases;
    }

    /// <summary>
    /// Follows every lease until <paramref name="settled"/> says so or it ends, and returns them as last seen, in the same
    /// order. Gives up after <paramref name="limit"/> with DEADLINE_EXCEEDED; the leases carry on regardless.
    /// </summary>
    private static async Task<List<Lease>> FollowAsync(CommandContext context, string label, IReadOnlyList<Lease> leases, Func<Lease, bool> settled, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        var latest = leases.ToArray();
        var printed = string.Empty;
        var gate = new SemaphoreSlim(Watches);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        deadline.CancelAfter(limit);
        var client = new LeaseServiceClient(context.Channel);
        Report();
        try
        {
            await Task.WhenAll(latest.Select((lease, i) => settled(lease) ? Task.CompletedTask : WatchAsync(i)));
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException && deadline.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(StatusCode.DeadlineExceeded,
                $"{label} is still {LeaseView.Tally(latest)} after {limit.TotalMinutes:0.#} minutes; the leases continue — follow them with `ws list`");
        }

        return latest.ToList();

        async Task WatchAsync(int i)
        {
            await gate.WaitAsync(deadline.Token);
            try
            {
                await foreach (var update in client.WatchLeaseAsync(new GetLeaseRequest { Id = latest[i].Id }, new CallOptions { CancellationToken = deadline.Token }))
                {
                    latest[i] = update;
                    Report();
                    if (settled(update) || update.State is LeaseState.Failed or LeaseState.Ended)
                    {
                        break;
                    }
                }
            }
            finally
            {
                gate.Release();
            }
        }

        void Report()
        {
            lock (latest)
            {
                var tally = LeaseView.Tally(latest);
                if (tally != printed)
                {
                    printed = tally;
                    Console.Error.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s  {label}: {tally}");
                }
            }
        }
    }

    /// <summary>Exits non-zero when a lease of the group failed or ended: with its reason, which is the group's when every one failed alike.</summary>
    private static void ThrowIfAnyEnded(string label, List<Lease> leases)
    {
        var ended = leases.Where(l => l.State is LeaseState.Failed or LeaseState.Ended).ToList();
        if (ended.Count == 0)
        {
            return;
        }

        throw new RpcException(StatusCode.FailedPrecondition, ended.Count == leases.Count && ended.Select(l => l.StateReason).Distinct().Count() == 1
            ? $"{label} {LeaseView.StateName(ended[0].State)}: {ended[0].StateReason}"
            : $"{ended.Count} of {leases.Count} leases of {label} failed or ended; {ended[0].Id} {LeaseView.StateName(ended[0].State)}: {ended[0].StateReason}");
    }

    /// <summary>Whether the lease reached <paramref name="goal"/>, or ended or failed on the way.</summary>
    public static bool IsSettled(Lease lease, LeaseState goal) =>
        lease.State == goal || lease.State is LeaseState.Failed or LeaseState.Ended;
}
