using System.CommandLine;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws save</c>: a stopped lease's root disk becomes a new image of its owner's.</summary>
internal static class SaveCommand
{
    public static ManualCommand Create(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease, as `ws list` shows it; its workspace must be stopped (`ws stop`)." };
        var asName = new Option<string>("--as") { Description = "The image name to save as: a new name, or one whose versions are all yours (the save becomes its next version).", Required = true };
        var description = new Option<string?>("--description") { Description = "A line describing the image, shown by `ws image show`." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return as soon as the scheduler has accepted the save, without waiting for the host." };
        var waitLimit = new Option<string>("--wait-limit")
        {
            Description = "Give up waiting after this long, e.g. 30m (the save carries on).",
            DefaultValueFactory = _ => "30m",
        };
        var command = new ManualCommand("save", "Save a stopped workspace's disk as a new image you own.", """
            The host flattens the workspace's root disk — the image it was made from plus everything the
            guest wrote — into one qcow2 file (qemu-img convert), computes its sha256, and uploads it to the
            scheduler's image repository; the scheduler then adds it to the catalogue as the next version of
            NAME, owned by you, booting the same way as the image the lease was made from. Data disks are not
            part of the image.

            The workspace must be stopped, so the disk is consistent: `ws stop LEASE-ID` first, and
            `ws start LEASE-ID` after, if you want it back. The lease keeps its host and its end time; until
            the save is done the workspace stays stopped. A save that fails (the host's disk is full, the
            repository cannot be reached) leaves no file behind and says why in `ws show`; the lease is
            unaffected and can be saved again.

            Unless --no-wait is given, waits until the save is done and prints the lease.

            Exit status: 0 saved (or accepted, with --no-wait); 1 the scheduler refused (e.g. the workspace is
            not stopped) or the save failed; 2 a usage error; 3 the scheduler could not be reached, or
            --wait-limit passed (the save carries on; follow it with `ws show`).

            Example:
              ws stop w-abc123 && ws save w-abc123 --as my-analysis-env && ws start w-abc123
              ws lease --image my-analysis-env --duration 4h
            """)
        { id, asName, description, noWait, waitLimit };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var (name, version) = Parsing.ImageName(parse.GetValue(asName)!, "--as");
            if (version != 0)
            {
                throw new UsageException("--as takes an image name without a version: the save becomes the name's next version");
            }

            var limit = Parsing.Duration(parse.GetValue(waitLimit)!, "--wait-limit");
            var request = new SaveLeaseRequest { Id = parse.GetValue(id), ImageName = name, Description = parse.GetValue(description) ?? string.Empty };
            var lease = await new LeaseServiceClient(context.Channel).SaveLeaseAsync(request, context.Call);
            var generation = lease.Save.Generation;
            bool Done(Lease l) => l.Save is null || l.Save.Generation != generation || l.Save.State != SaveState.Saving;
            if (!parse.GetValue(noWait) && !Done(lease))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, Done, limit);
            }

            context.Write(lease, () => LeaseView.Render(lease));
            if (lease.Save is { State: SaveState.Failed } failed && failed.Generation == generation)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"saving lease {lease.Id} as {failed.ImageName} failed: {failed.Reason}");
            }

            if (!parse.GetValue(noWait) && lease.Save is not { State: SaveState.Saved })
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"lease {lease.Id} was not saved: it is {LeaseView.StateName(lease.State)} ({lease.StateReason})");
            }
        }, token));
        return command;
    }
}
