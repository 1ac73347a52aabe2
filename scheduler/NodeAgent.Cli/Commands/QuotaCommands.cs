using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws quota show|list|set</c>: per-project quotas and what each project uses of them.</summary>
public static class QuotaCommands
{
    /// <summary>The <c>quota</c> command; <paramref name="time"/> is what "changed 2h ago" is counted from.</summary>
    public static Command Create(GlobalOptions options, TimeProvider? time = null)
    {
        var clock = time ?? TimeProvider.System;
        return new ManualCommand("quota", "Per-project quotas: what a project may hold at once and spend per period.", """
            Every lease is charged to a project: the project of the token it was made with (on a scheduler run
            with --auth none, the user who made it). A project's quota limits, over its live leases together (every
            lease not yet ended or failed, stopped and paused ones included): vCPUs, memory and workspaces
            held at once; core-hours (vCPUs × leased hours) per rolling period; and how long one lease may
            run. The default quota ('*') applies to every project for each limit the project does not set
            itself. A lease that would pass a limit is refused, and the refusal names each limit passed and
            by how much. docs/quotas.md says exactly what is counted.
            """)
        {
            ShowCommand(options, clock),
            ListCommand(options),
            SetCommand(options, clock),
        };
    }

    private static ManualCommand ShowCommand(GlobalOptions options, TimeProvider clock)
    {
        var project = new Argument<string?>("PROJECT") { Description = "The project, or '*' for the default quota; users may read their own project's only. Default: your token's project.", Arity = ArgumentArity.ZeroOrOne };
        var command = new ManualCommand("show", "Show a project's quota, limit by limit, with what it uses now.", """
            One row per limit: what the project uses now (IN USE), the limit in force (QUOTA), and whether the
            project sets it itself (own) or has it from the default quota (default). IN USE counts every live
            lease of the project: pending, starting, running, stopped, paused, and stopping until its host has
            removed the workspace. Core-hours are charged from the start of the rolling period (now − period)
            on: ended leases for the time they ran, live leases until they expire, since a new lease is
            charged its whole duration when it is made. Releasing a lease early gives back the rest.

            Without PROJECT, your own project is shown. '*' shows the default quota (quote it from the shell).
            With -o json the scheduler's answer (a nodeagent.v1.Quota) is printed as is.

            Exit status: 0 success; 1 the scheduler refused the request; 2 a usage error; 3 the scheduler
            could not be reached.

            Examples:
              ws quota show
              ws quota show genomics
              ws quota show '*' -o json
            """)
        { project };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var name = parse.GetValue(project) is { } given ? Project(given) : string.Empty;
            var quota = await new QuotaServiceClient(context.Channel).GetQuotaAsync(new GetQuotaRequest { Project = name }, context.Call);
            context.Write(quota, () => QuotaView.Render(quota, clock.GetUtcNow()));
        }, token));
        return command;
    }

    private static ManualCommand ListCommand(GlobalOptions options)
    {
        var command = new ManualCommand("list", "List the default quota and every project with settings of its own.", """
            One row per quota: the default ('*') first with its limits, then each project that sets a limit of
            its own, by name, as USE/LIMIT for every limit (its own or the default's). Projects that set
            nothing themselves have the default quota and are not listed; `ws quota show PROJECT` shows any
            project. CHANGED BY is who last changed the row.

            Examples:
              ws quota list
              ws quota list -o json | jq '.quotas[] | {project, use}'
            """);
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var response = await new QuotaServiceClient(context.Channel).ListQuotasAsync(new ListQuotasRequest(), context.Call);
            context.Write(response, () => QuotaView.RenderList(response.Quotas));
        }, token));
        return command;
    }

    private static ManualCommand SetCommand(GlobalOptions options, TimeProvider clock)
    {
        var project = new Argument<string>("PROJECT") { Description = "The project, or '*' for the default quota." };
        var vcpus = new Option<string?>("--vcpus") { HelpName = "N|unlimited", Description = "vCPUs the project's live leases may hold together." };
        var memory = new Option<string?>("--memory") { HelpName = "SIZE|unlimited", Description = "Memory the project's live leases may hold together, e.g. 64G." };
        var workspaces = new Option<string?>("--workspaces") { HelpName = "N|unlimited", Description = "Live leases the project may hold at once." };
        var coreHours = new Option<string?>("--core-hours") { HelpName = "N|unlimited", Description = "Core-hours (vCPUs × leased hours) the project may spend per --period." };
        var period = new Option<string?>("--period") { HelpName = "DURATION", Description = "The rolling period of --core-hours, e.g. 30d: from 1h to 366d." };
        var maxDuration = new Option<string?>("--max-duration") { HelpName = "DURATION|unlimited", Description = "The longest a lease of the project may run from its creation, extensions included, e.g. 7d." };
        var reset = new Option<bool>("--reset") { Description = "Drop the project's own settings first: alone, it gives the project the default quota back." };
        var command = new ManualCommand("set", "Change a project's quota, or the default quota ('*').", """
            Sets the limits given and keeps the others: a project's own settings win over the default quota's,
            limit by limit, so `ws quota set alice --vcpus 64` gives alice 64 vCPUs and the default for the
            rest. Each limit takes a number (sizes as 512M, 64G, 1T; durations as 12h, 7d, 1d12h) or
            `unlimited` (or 0), which exempts the project from a limit the default sets. --reset drops the
            project's own settings before the others are applied. On '*', unlimited and --reset make the
            limit unlimited for every project that does not set it.

            --core-hours needs a period: give --period with it, unless the project (or, for a project, the
            default) already has a budget whose period is kept. --period alone changes the period of the
            budget in force. The period is a rolling window ending now, between 1h and 366d.

            --max-duration is counted from a lease's creation: leases asking longer are refused, and so are
            extensions past it. Between 1m and 366d.

            Limits apply to leases made from now on: a project already above a lowered limit keeps its
            leases, and new ones are refused until it is back under.

            Anyone who can reach the scheduler can change quotas for now; once the scheduler knows users and
            projects, only admins will.

            Exit status: 0 success; 1 the scheduler refused the change (the message names each problem);
            2 a usage error; 3 the scheduler could not be reached.

            Examples:
              ws quota set '*' --vcpus 16 --memory 64G --workspaces 8 --max-duration 7d
              ws quota set '*' --core-hours 1000 --period 30d
              ws quota set genomics --vcpus 128 --core-hours 20000
              ws quota set alice --max-duration unlimited
              ws quota set alice --reset
            """)
        { project, vcpus, memory, workspaces, coreHours, period, maxDuration, reset };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var limits = new QuotaLimits();
            if (parse.GetValue(vcpus) is { } v)
            {
                limits.MaxVcpus = QuotaView.Count(v, "--vcpus");
            }

            if (parse.GetValue(memory) is { } m)
            {
                limits.MaxMemoryBytes = QuotaView.Size(m, "--memory");
            }

            if (parse.GetValue(workspaces) is { } w)
            {
                limits.MaxWorkspaces = QuotaView.Count(w, "--workspaces");
            }

            if (parse.GetValue(coreHours) is { } c)
            {
                limits.CoreHoursBudget = QuotaView.CoreHours(c, "--core-hours");
            }

            if (parse.GetValue(period) is { } p)
            {
                limits.Period = Duration.FromTimeSpan(QuotaView.Span(p, "--period", unlimitedAllowed: false));
            }

            if (parse.GetValue(maxDuration) is { } d)
            {
                limits.MaxLeaseDuration = Duration.FromTimeSpan(QuotaView.Span(d, "--max-duration", unlimitedAllowed: true));
            }

            var request = new SetQuotaRequest { Project = Project(parse.GetValue(project)!), Limits = limits, Reset = parse.GetValue(reset) };
            if (limits.CalculateSize() == 0 && !request.Reset)
            {
                throw new UsageException("nothing to change; give at least one of --vcpus, --memory, --workspaces, --core-hours, --period, --max-duration or --reset");
            }

            var quota = await new QuotaServiceClient(context.Channel).SetQuotaAsync(request, context.Call);
            context.Write(quota, () => QuotaView.Render(quota, clock.GetUtcNow()));
        }, token));
        return command;
    }

    private static string Project(string text) =>
        text == QuotaServiceMethods.DefaultProject || NodeAgent.Contract.IdSyntax.IsValid(text, out var problem)
            ? text
            : throw new UsageException($"PROJECT {problem}; name a project, or '*' for the default quota");
}
