using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;

namespace NodeAgent.Cli.Commands;

/// <summary>The lease commands: lease, list, show, extend, release.</summary>
public static class LeaseCommands
{
    public static IEnumerable<Command> Create(GlobalOptions options)
    {
        yield return LeaseCommand(options);
        yield return ListCommand(options);
        yield return ShowCommand(options);
        yield return ExtendCommand(options);
        yield return ReleaseCommand(options);
    }

    private static Command LeaseCommand(GlobalOptions options)
    {
        var image = new Option<string>("--image") { Description = "The image to boot, by name.", Required = true };
        var cpus = new Option<uint>("--cpus") { Description = "Virtual CPUs.", DefaultValueFactory = _ => 1 };
        var memory = new Option<string>("--memory") { Description = "Memory, e.g. 512M or 2G.", DefaultValueFactory = _ => "1G" };
        var disk = new Option<string>("--disk") { Description = "Root disk size, e.g. 10G. 0 keeps the image's size.", DefaultValueFactory = _ => "0" };
        var duration = new Option<string>("--duration") { Description = "How long the lease lasts, e.g. 30m, 2h, 7d.", DefaultValueFactory = _ => "1h" };
        var noWait = new Option<bool>("--no-wait") { Description = "Return as soon as the lease is accepted instead of waiting until it runs." };
        var waitLimit = new Option<string>("--wait-limit") { Description = "Give up waiting after this long (the lease stays).", DefaultValueFactory = _ => "10m" };
        var requestId = new Option<string?>("--request-id") { Description = "Idempotency key: repeating the command with the same key returns the same lease." };
        var command = new Command("lease", """
            Lease a workspace. The scheduler places it on the least loaded host that fits, the host boots it,
            and it ends by itself when the lease expires (see `ws extend` and `ws release`). Waits until the
            workspace runs and shows each step, unless --no-wait is given.
            """)
        { image, cpus, memory, disk, duration, noWait, waitLimit, requestId };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var request = new CreateLeaseRequest
            {
                Image = parse.GetValue(image)!,
                Resources = new Resources
                {
                    Vcpus = parse.GetValue(cpus),
                    MemoryBytes = Parsing.Size(parse.GetValue(memory)!, "--memory"),
                    DiskBytes = Parsing.Size(parse.GetValue(disk)!, "--disk"),
                },
                Duration = Duration.FromTimeSpan(Parsing.Duration(parse.GetValue(duration)!, "--duration")),
                RequestId = parse.GetValue(requestId) ?? string.Empty,
            };
            var limit = Parsing.Duration(parse.GetValue(waitLimit)!, "--wait-limit");
            var lease = await new LeaseServiceClient(context.Channel).CreateLeaseAsync(request, context.Call);
            if (!parse.GetValue(noWait) && !IsSettled(lease, LeaseState.Running))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, l => IsSettled(l, LeaseState.Running), limit);
            }

            context.Write(lease, () => LeaseView.Render(lease));
            if (lease.State is LeaseState.Failed or LeaseState.Ended)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"lease {lease.Id} {LeaseView.StateName(lease.State)}: {lease.StateReason}");
            }
        }, token));
        return command;
    }

    private static Command ListCommand(GlobalOptions options)
    {
        var all = new Option<bool>("--all", "-a") { Description = "Include ended and failed leases." };
        var command = new Command("list", "List leases and where their workspaces run.") { all };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var response = await new LeaseServiceClient(context.Channel).ListLeasesAsync(new ListLeasesRequest { IncludeEnded = parse.GetValue(all) }, context.Call);
            context.Write(response, () => LeaseView.RenderList(response.Leases));
        }, token));
        return command;
    }

    private static Command ShowCommand(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease, as `ws list` shows it." };
        var command = new Command("show", "Show one lease in full: state and why, host, resources, times.") { id };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var lease = await new LeaseServiceClient(context.Channel).GetLeaseAsync(new GetLeaseRequest { Id = parse.GetValue(id) }, context.Call);
            context.Write(lease, () => LeaseView.Render(lease));
        }, token));
        return command;
    }

    private static Command ExtendCommand(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease to extend." };
        var by = new Option<string>("--by") { Description = "How much longer, e.g. 1h or 2d.", Required = true };
        var command = new Command("extend", "Move a lease's end further out.") { id, by };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var request = new ExtendLeaseRequest { Id = parse.GetValue(id), By = Duration.FromTimeSpan(Parsing.Duration(parse.GetValue(by)!, "--by")) };
            var lease = await new LeaseServiceClient(context.Channel).ExtendLeaseAsync(request, context.Call);
            context.Write(lease, () => LeaseView.Render(lease));
        }, token));
        return command;
    }

    private static Command ReleaseCommand(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease to end." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return at once instead of waiting until the workspace is removed." };
        var command = new Command("release", "End a lease now: its workspace is stopped and removed from its host.") { id, noWait };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var lease = await new LeaseServiceClient(context.Channel).ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = parse.GetValue(id) }, context.Call);
            if (!parse.GetValue(noWait) && !IsSettled(lease, LeaseState.Ended))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, l => IsSettled(l, LeaseState.Ended), TimeSpan.FromMinutes(5));
            }

            context.Write(lease, () => LeaseView.Render(lease));
        }, token));
        return command;
    }

    private static bool IsSettled(Lease lease, LeaseState goal) =>
        lease.State == goal || lease.State is LeaseState.Failed or LeaseState.Ended;
}
