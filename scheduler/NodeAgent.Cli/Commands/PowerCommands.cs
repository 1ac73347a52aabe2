using System.CommandLine;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;

namespace NodeAgent.Cli.Commands;

/// <summary>The power commands: stop, start, reboot, pause and resume a lease's workspace without giving up the lease.</summary>
public static class PowerCommands
{
    public static IEnumerable<Command> Create(GlobalOptions options)
    {
        yield return PowerCommand(options, "stop", PowerAction.Stop,
            "Stop a lease's workspace (ACPI shutdown, then power-off); the lease stays.",
            """
            The host asks the guest to shut down, as pressing its power button would (ACPI), and powers it
            off hard if it is still up after the host's stop timeout; what the guest held only in memory is
            lost. The workspace is not removed: the lease keeps its host, its disk and its end time, and it
            still holds its vCPUs, memory and disk on the host, so it counts against the host's capacity
            exactly as a running workspace does. `ws start` boots it again from the same disk; only
            `ws release` gives the capacity back.

            Stopping a stopped lease, or one being stopped, changes nothing. A paused lease must be resumed
            first (`ws resume`); a lease that is still starting must be running first.
            """ + Waiting("reports the workspace stopped"));
        yield return PowerCommand(options, "start", PowerAction.Start,
            "Start a stopped lease's workspace again, on the same host and disk.",
            """
            The guest boots from its disk as it was when it stopped; what it had in memory before is gone.
            The lease keeps its host and its end time. Starting a running lease, or one being started,
            changes nothing; a paused lease is woken with `ws resume`.
            """ + Waiting("reports the workspace running"));
        yield return PowerCommand(options, "reboot", PowerAction.Reboot,
            "Reboot a lease's workspace: stop it, then start it again.",
            """
            The guest is shut down as `ws stop` does it (ACPI shutdown, powered off hard after the host's stop
            timeout), then booted again from its disk, on the same host. The lease keeps its end time.
            Only a running lease can be rebooted. Each `ws reboot` asks for one more reboot, even while one is
            under way; `ws show` counts the reboots asked for and those the host has carried out.
            """ + Waiting("has carried out this reboot and runs the workspace again"));
        yield return PowerCommand(options, "pause", PowerAction.Pause,
            "Pause a lease's workspace: suspend its vCPUs, keep its memory.",
            """
            The guest stops executing at once, without being told: its memory, processes and open files stay
            as they are, and `ws resume` carries on exactly where it left off. Network peers may time out
            meanwhile, and the guest's clock lags until it resynchronises. The lease keeps its host, disk
            and end time, and the workspace keeps holding its vCPUs and memory on the host.

            Pausing a paused lease, or one being paused, changes nothing. Only a running lease can be paused.
            """ + Waiting("reports the workspace paused"));
        yield return PowerCommand(options, "resume", PowerAction.Resume,
            "Resume a paused lease's workspace where it left off.",
            """
            The guest's vCPUs run again from where they were suspended, with the memory they had. Resuming a
            running lease, or one being resumed, changes nothing; a stopped lease is booted with `ws start`.
            """ + Waiting("reports the workspace running"));
    }

    private static string Waiting(string until) => $"""


        Unless --no-wait is given, waits until the host {until}.
        It prints each step on stderr, then the lease as `ws show` does (or as JSON with -o json).

        Exit status: 0 done (or accepted, with --no-wait); 1 the scheduler refused (its message names the
        lease's state and the command that fits it) or the lease failed or ended while waiting; 2 a usage
        error; 3 the scheduler could not be reached, or --wait-limit passed (the change carries on; follow
        it with `ws show`).
        """;

    private static ManualCommand PowerCommand(GlobalOptions options, string name, PowerAction action, string summary, string manual)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease, as `ws list` shows it." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return as soon as the scheduler has accepted the request, without waiting for the host." };
        var waitLimit = new Option<string>("--wait-limit")
        {
            Description = "Give up waiting after this long, e.g. 90s, 5m (the change carries on).",
            DefaultValueFactory = _ => "5m",
        };
        var command = new ManualCommand(name, summary, manual) { id, noWait, waitLimit };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var limit = Parsing.Duration(parse.GetValue(waitLimit)!, "--wait-limit");
            var request = new SetLeasePowerRequest { Id = parse.GetValue(id), Action = action };
            var lease = await new LeaseServiceClient(context.Channel).SetLeasePowerAsync(request, context.Call);
            var goal = Goal(action, lease.RebootsRequested);
            if (!parse.GetValue(noWait) && !goal(lease) && !Abandoned(lease, action))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, l => goal(l) || Abandoned(l, action), limit);
            }

            context.Write(lease, () => LeaseView.Render(lease));
            if (!parse.GetValue(noWait) && !goal(lease))
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"lease {lease.Id} did not {name}: it is {LeaseView.StateName(lease.State)} ({lease.StateReason})");
            }
        }, token));
        return command;
    }

    /// <summary>When the asked-for change is done. A reboot is done when the host has carried out this many reboots and runs.</summary>
    internal static Func<Lease, bool> Goal(PowerAction action, ulong rebootsRequested) => action switch
    {
        PowerAction.Stop => l => l.State == LeaseState.Stopped,
        PowerAction.Pause => l => l.State == LeaseState.Paused,
        PowerAction.Reboot => l => l.State == LeaseState.Running && l.RebootsDone >= rebootsRequested,
        _ => l => l.State == LeaseState.Running,
    };

    /// <summary>Whether the lease can no longer reach the goal: it was released, expired or failed, or another power change was asked for.</summary>
    private static bool Abandoned(Lease lease, PowerAction action) =>
        lease.State is LeaseState.Stopping or LeaseState.Ended or LeaseState.Failed || LeaseView.Power(lease) != Wanted(action);

    private static PowerState Wanted(PowerAction action) => action switch
    {
        PowerAction.Stop => PowerState.Stopped,
        PowerAction.Pause => PowerState.Paused,
        _ => PowerState.Running,
    };
}
