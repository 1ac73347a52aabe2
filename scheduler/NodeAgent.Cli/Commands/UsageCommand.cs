using System.CommandLine;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws usage</c>: what your workspaces used — CPU, memory, power-on time, network and disk — over a range.</summary>
public static class UsageCommand
{
    public static Command Create(GlobalOptions options, TimeProvider? time = null)
    {
        var clock = time ?? TimeProvider.System;
        var project = new Option<string?>("--project") { Description = "Only usage charged to this project (default: every project)." };
        var since = new Option<string?>("--since") { Description = "Start of the range (inclusive): 2026-11-01, 2026-11-01T09:00 (UTC) or 7d back from now. Default: the start of this month (UTC)." };
        var until = new Option<string?>("--until") { Description = "End of the range (exclusive), written as --since. Default: now." };
        var by = new Option<string?>("--by") { Description = "One row per lease, project or owner, with a total row (default: one row over everything)." };
        by.AcceptOnlyFromAmong("lease", "project", "owner");

        var command = new ManualCommand("usage", "Show what your workspaces used: CPU-hours, memory GiB-hours, powered-on hours, network and disk.", """
            Hosts meter every workspace once a minute and ship the records to the scheduler, which keeps each
            record once however often it is resent. This command sums your records whose period starts in
            [--since, --until) and prints:

              CPU-HOURS         CPU time of the workspace's cgroup (QEMU's own overhead included), in hours
              VCPU-HOURS        CPU time of the guest's vCPUs alone, in hours
              MEM GIB-HOURS     memory given to the workspace (GiB) × the time it was metered (hours)
              POWERED-ON HOURS  time the workspace was running
              NET IN / NET OUT  bytes the workspace received / sent
              DISK READ / WRITE bytes the workspace read from / wrote to its disks

            Records reach the scheduler within about a minute of the period they cover, later if a host
            cannot reach it (the host keeps them until the scheduler has stored them). Usage of the current
            minute is therefore not shown yet.

            Dates are UTC: 2026-11-01 (midnight), 2026-11-01T09:00, or a time back from now such as 7d, 12h
            or 1d12h. With -o json the scheduler's answer (GetUsageResponse, totals only) is printed as is.

            Exit status: 0 success (also when there is no usage); 1 the scheduler refused the request;
            2 a usage error (e.g. a malformed date); 3 the scheduler could not be reached.

            Examples:
              ws usage                                  this month, everything
              ws usage --since 7d --by lease            the last seven days, one row per lease
              ws usage --project genomics --since 2026-10-01 --until 2026-11-01
              ws usage --by project -o json | jq '.totals[] | {key, cpuSeconds}'
            """)
        { project, since, until, by };

        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var now = clock.GetUtcNow();
            var from = parse.GetValue(since) is { } s ? UsageView.Date(s, "--since", now) : UsageView.StartOfMonth(now);
            var to = parse.GetValue(until) is { } u ? UsageView.Date(u, "--until", now) : now;
            if (from > to)
            {
                throw new UsageException($"--since ({from:u}) is after --until ({to:u}); give a range that starts before it ends");
            }

            var grouping = parse.GetValue(by);
            var request = new GetUsageRequest
            {
                From = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(from),
                To = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(to),
                Project = parse.GetValue(project) ?? string.Empty,
                TotalsOnly = true,
                GroupBy = grouping switch
                {
                    "lease" => UsageGrouping.Lease,
                    "project" => UsageGrouping.Project,
                    "owner" => UsageGrouping.Owner,
                    _ => UsageGrouping.Unspecified,
                },
            };
            var response = await new UsageServiceClient(context.Channel).GetUsageAsync(request, context.Call);
            var heading = $"Usage from {from:yyyy-MM-dd HH:mm} to {to:yyyy-MM-dd HH:mm} UTC" + (request.Project.Length > 0 ? $", project {request.Project}" : string.Empty);
            context.Write(response, () => UsageView.Render(response.Totals, grouping, heading));
        }, token));
        return command;
    }
}
