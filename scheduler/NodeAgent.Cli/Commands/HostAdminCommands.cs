using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws hosts disable|enable|drain</c>: an operator takes a host out of placement, empties it, or puts it back.</summary>
public static class HostAdminCommands
{
    private const string Untouched = """
        Nothing here stops, ends or moves a workspace: the workspaces on the host keep running until their
        leases end (released by their owners, or expired). An unreachable host's workspaces are left alone
        too: they may still be running.
        """;

    private const string ExitStatus = """
        Exit status: 0 success; 1 the scheduler refused (unknown host, a state that does not allow the
        action, a deadline out of range); 2 a usage error; 3 the scheduler could not be reached.
        """;

    public static IEnumerable<Command> Create(GlobalOptions options, TimeProvider time)
    {
        yield return Disable(options);
        yield return Enable(options);
        yield return Drain(options, time);
    }

    /// <summary>
    /// A drain's deadline: a duration from <paramref name="now"/> ("2h", "1d12h") or a UTC date and time as
    /// <c>ws usage --since</c> takes them ("2026-11-01", "2026-11-01T18:00").
    /// </summary>
    public static DateTimeOffset Deadline(string text, DateTimeOffset now)
    {
        var trimmed = text.Trim();
        DateTimeOffset deadline;
        try
        {
            // Dates have dashes, durations never: "-2h" is refused below rather than read as two hours back.
            deadline = trimmed.Contains('-', StringComparison.Ordinal) ? UsageView.Date(trimmed, "--deadline", now) : now + Parsing.Duration(trimmed, "--deadline");
        }
        catch (UsageException e) when (!e.Message.Contains("real date", StringComparison.Ordinal))
        {
            throw new UsageException($"--deadline '{text}' is neither a duration from now nor a date; write e.g. 2h, 1d12h, 2026-11-01 or 2026-11-01T18:00 (UTC)", e);
        }

        return deadline > now
            ? deadline
            : throw new UsageException($"--deadline '{text}' is {deadline:u}, not after now ({now:u}); give a time ahead, e.g. 2h");
    }

    private static ManualCommand Disable(GlobalOptions options)
    {
        var (id, reason) = (HostId(), Reason());
        var command = new ManualCommand("disable", "Take a host out of placement: it gets no new workspaces; those it runs keep running.", $"""
            The scheduler places no new workspace on a disabled host until `ws hosts enable` puts it back.
            Use it to stop a host from filling up while you look at it, or before maintenance whose end you
            cannot foresee; `ws hosts drain` waits, in addition, until the host is empty.
            Disabling works from every admin state, also during a drain (which it ends without a verdict).

            {Untouched}

            `ws hosts show HOST-ID` tells the state, who set it, when and why (--reason). With -o json the
            host is printed as the scheduler returns it (nodeagent.v1.Host).

            {ExitStatus}

            Examples:
              ws hosts disable node-07 --reason "ECC errors in the kernel log; memory test pending"
              ws host disable node-07 -o json | jq .adminState
            """)
        { id, reason };
        command.SetAction((parse, token) => RunAsync(parse, options, () => Request(parse, id, reason, HostAdminAction.Disable), token));
        return command;
    }

    private static ManualCommand Enable(GlobalOptions options)
    {
        var (id, reason) = (HostId(), Reason());
        var command = new ManualCommand("enable", "Put a host back into placement, from any admin state.", $"""
            The scheduler may place new workspaces on the host again, as soon as it is healthy (up, not
            degraded). Enabling works from every admin state: disabled, draining (the drain is called off),
            drained and drain-failed. Enabling an enabled host keeps its "since" and records who asked and
            why.

            {ExitStatus}

            Examples:
              ws hosts enable node-07
              ws hosts enable node-07 --reason "memory replaced"
            """)
        { id, reason };
        command.SetAction((parse, token) => RunAsync(parse, options, () => Request(parse, id, reason, HostAdminAction.Enable), token));
        return command;
    }

    private static ManualCommand Drain(GlobalOptions options, TimeProvider time)
    {
        var (id, reason) = (HostId(), Reason());
        var deadline = new Option<string>("--deadline")
        {
            Description = "When the host must be empty: a duration from now (2h, 1d12h) or a UTC date (2026-11-01, 2026-11-01T18:00). At most 30 days ahead.",
            Required = true,
        };
        var command = new ManualCommand("drain", "Empty a host for maintenance: no new workspaces, then wait until its leases have ended.", $"""
            Draining takes the host out of placement at once, as `ws hosts disable` does, and then waits for
            every lease on it to end. The scheduler checks every few seconds: when no lease holds capacity on
            the host any more (none is starting, running, stopped, paused or stopping there), the host becomes
            drained and can be taken down. If leases still hold capacity at --deadline, the host becomes
            drain-failed, and `ws hosts show` names those leases; ask their owners to release them, or drain
            again with a later deadline. Either way, the host stays out of placement until `ws hosts enable`.

            {Untouched}

            Draining works from enabled, disabled and drain-failed. A draining host's deadline is changed by
            `ws hosts disable`, then draining again; a drained host needs nothing more.

            {ExitStatus}

            Examples:
              ws hosts drain node-07 --deadline 2h --reason "kernel upgrade"
              ws hosts drain node-07 --deadline 2026-11-01T18:00
              ws hosts show node-07        follow it: draining → drained, or drain-failed with the leases left
            """)
        { id, reason, deadline };
        command.SetAction((parse, token) => RunAsync(parse, options, () =>
        {
            var request = Request(parse, id, reason, HostAdminAction.Drain);
            request.DrainDeadline = Timestamp.FromDateTimeOffset(Deadline(parse.GetValue(deadline)!, time.GetUtcNow()));
            return request;
        }, token));
        return command;
    }

    private static Argument<string> HostId() => new("HOST-ID") { Description = "The host's id, as `ws hosts list` shows it." };

    private static Option<string?> Reason() => new("--reason") { Description = "Why, for other operators: shown by `ws hosts show`. At most 253 characters." };

    private static SetHostAdminStateRequest Request(ParseResult parse, Argument<string> id, Option<string?> reason, HostAdminAction action) =>
        new() { HostId = parse.GetValue(id), Action = action, Reason = parse.GetValue(reason) ?? string.Empty };

    /// <param name="request">Builds the request inside the command's error handling, so a malformed value is a usage error.</param>
    private static Task<int> RunAsync(ParseResult parse, GlobalOptions options, Func<SetHostAdminStateRequest> request, CancellationToken token) =>
        CommandContext.RunAsync(parse, options, async context =>
        {
            var host = await new HostServiceClient(context.Channel).SetHostAdminStateAsync(request(), context.Call);
            context.Write(host, () => Outcome(host));
        }, token);

    /// <summary>What the change means, in one or two lines.</summary>
    internal static string Outcome(Host h)
    {
        var id = h.Info.HostId;
        return h.AdminState switch
        {
            HostAdminState.Enabled => $"Host {id} is enabled: new workspaces may be placed on it.\n",
            HostAdminState.Disabled => $"Host {id} is disabled: no new workspaces are placed on it; those it runs keep running.\n",
            HostAdminState.Draining =>
                $"Host {id} is draining until {h.DrainDeadline.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)}: no new workspaces are placed on it, " +
                $"and it becomes drained when its last lease ends.\n`ws hosts show {id}` follows it.\n",
            _ => $"Host {id} is {HostCommands.Admin(h.AdminState)}.\n",
        };
    }
}
