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

    private static ManualCommand LeaseCommand(GlobalOptions options)
    {
        var image = new Option<string>("--image") { Description = "The image to boot: NAME for its newest version, or NAME:VERSION (see `ws image list`).", Required = true };
        var cpus = new Option<uint>("--cpus") { Description = "Virtual CPUs.", DefaultValueFactory = _ => 1 };
        var memory = new Option<string>("--memory") { Description = "Memory, e.g. 512M or 2G.", DefaultValueFactory = _ => "1G" };
        var disk = new Option<string>("--disk") { Description = "Root disk size, e.g. 10G. 0 keeps the image's size.", DefaultValueFactory = _ => "0" };
        var duration = new Option<string>("--duration") { Description = "How long the lease lasts, e.g. 30m, 2h, 7d (with --start: the window's length).", DefaultValueFactory = _ => "1h" };
        var noWait = new Option<bool>("--no-wait") { Description = "Return as soon as the lease is accepted (or queued) instead of waiting until it runs." };
        var waitLimit = new Option<string>("--wait-limit") { Description = "Give up waiting after this long (the lease stays).", DefaultValueFactory = _ => "10m" };
        var requestId = new Option<string?>("--request-id") { Description = "Idempotency key: repeating the command with the same key returns the same lease (or group)." };
        var count = new Option<uint>("--count") { Description = "Lease this many identical workspaces as one group, placed whole or not at all (1–1000).", DefaultValueFactory = _ => 1 };
        var network = new Option<string?>("--network")
        {
            Description = "The network to attach the workspace to, by name. Default: the scheduler's default network (none when it has no networks).",
        };
        var sshKeys = new Option<string[]>("--ssh-key")
        {
            Description = "A public key file (e.g. ~/.ssh/id_ed25519.pub) whose keys the workspace authorizes. Repeatable. Default: every ~/.ssh/id_*.pub.",
            AllowMultipleArgumentsPerToken = false,
        };
        var dataDisks = new Option<string[]>("--data-disk")
        {
            Description = "Attach a blank data disk of this size, e.g. 20G (vdb, then vdc, ...). Repeatable, at most 8.",
            AllowMultipleArgumentsPerToken = false,
        };
        var iops = new Option<ulong>("--iops") { Description = "Limit each disk to this many I/O operations per second. Default: unlimited." };
        var diskBandwidth = new Option<string?>("--disk-bandwidth") { Description = "Limit each disk to this many bytes per second, e.g. 100M. Default: unlimited." };
        var cpuWeight = new Option<uint>("--cpu-weight") { Description = "CPU weight against the host's other workspaces when CPUs are contended, 2–262144. Default: the host's (1024)." };
        var cpuCap = new Option<uint>("--cpu-cap") { Description = "The most of one host CPU each vCPU may use, in percent (1–100), even when the host is idle. Default: no cap." };
        var memoryLimit = new Option<string?>("--memory-limit") { Description = "Hard limit on the workspace's QEMU process (guest memory and QEMU's overhead), e.g. 2.5G; at least --memory + 128M. Default: none." };
        var nicInbound = new Option<string?>("--nic-inbound") { Description = "Average bandwidth into each NIC of the guest, bytes per second, e.g. 10M. Default: unlimited." };
        var nicOutbound = new Option<string?>("--nic-outbound") { Description = "Average bandwidth out of each NIC of the guest, bytes per second, e.g. 10M. Default: unlimited." };
        var sshUser = SshUserOption();
        var placement = new LeasePlacement();
        var kind = new LeaseKindOptions();
        var command = new ManualCommand("lease", "Lease a workspace: placed on a host, given an address, booted; prints how to reach it.", """
            The scheduler places the workspace on the least loaded host that fits and has a bridge for its
            network, gives it the lowest free address of that network and a MAC of its own, and the host
            boots it. The lease ends by itself when its time is up (see `ws extend` and `ws release`). ws
            waits until the workspace runs and shows each step, unless --no-wait is given, then prints the
            lease with its address and the ssh command that reaches it.

            Network: --network NAME picks one of the scheduler's networks; without it the workspace joins
            the scheduler's default network, or gets no NIC when the scheduler has none. When every address
            of the network is taken or still in quarantine after an earlier workspace, the lease fails and
            says so.

            SSH keys: the workspace authorizes the public keys of every --ssh-key FILE (each non-empty line
            not starting with '#' is one key), or, without --ssh-key, of every ~/.ssh/id_*.pub. At most 16
            keys, each TYPE BASE64 [COMMENT] as OpenSSH writes it; a file that holds anything else, or a
            private key, is refused before the scheduler is asked. With no key found, ws says so and the
            lease goes ahead without keys.

            Disks: the root disk is a copy-on-write overlay on the image, so it is made in the same short
            time whatever the image's size; --disk grows it (the guest sees the new size; growing its file
            system is the guest's business). Each --data-disk adds a blank disk. The host fetches the image
            on first use and checks its sha256 against the catalogue before booting it; `ws show` reports
            what the disks take on the host. --iops and --disk-bandwidth cap every disk of the workspace.

            Sharing the host: --cpu-weight sets the workspace's share of contended CPUs, --cpu-cap caps each
            vCPU, --memory-limit caps what its QEMU process may hold, and --nic-inbound/--nic-outbound limit
            each NIC. The host enforces them with cgroups and tc; `ws show` lists them.

            Groups: --count N leases N identical workspaces in one request, placed whole or not at all:
            either every one gets a host (each one's choice counts the capacity, addresses, quota and
            anti-affinity of those before it) or none does, and all N fail with the reason. With --start,
            every window is reserved or none is. ws waits until every workspace runs, printing how many
            are in each state as that changes, then lists them. Each lease carries the group's id (g-...):
            `ws list --group G` lists the group, `ws release --group G` ends it. A best-effort group is
            refused: the queue places one lease at a time.
            """ + "\n\n" + LeaseKindOptions.Manual + "\n\n" + LeasePlacement.Manual + "\n\n" + """
            Examples:
              ws lease --image debian-12 --memory 2G --duration 4h --ssh-key ~/.ssh/id_ed25519.pub --ssh-user debian
              ws lease --image debian-12:3 --disk 40G --data-disk 100G --iops 2000 --duration 1d
              ws lease --image debian-12 --cpus 4 --cpu-cap 50 --memory 4G --memory-limit 4.5G --nic-outbound 50M
              ws lease --image debian-12 --anti-affinity db --label rack=r1 --dry-run
              ws lease --image debian-12 --cpus 8 --best-effort --queue-limit 6h --duration 3h
              ws lease --image debian-12 --cpus 16 --start 2026-12-01T09:00 --duration 4h
              ws lease --image debian-12 --cpus 4 --count 8 --anti-affinity mpi --duration 6h
            """)
        { image, cpus, memory, disk, duration, noWait, waitLimit, requestId, count, network, sshKeys, dataDisks, iops, diskBandwidth, cpuWeight, cpuCap, memoryLimit, nicInbound, nicOutbound, sshUser };
        foreach (var option in placement.All.Concat(kind.All))
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var user = SshUser(parse.GetValue(sshUser));
            var networkName = parse.GetValue(network);
            if (networkName is not null && !NodeAgent.Contract.NetworkSyntax.IsValidName(networkName, out var networkProblem))
            {
                throw new UsageException($"--network {networkProblem}");
            }

            var keys = SshKeyFiles.Read(parse.GetValue(sshKeys) ?? [], Environment.GetEnvironmentVariable, Console.Error);
            var (imageName, imageVersion) = Parsing.ImageName(parse.GetValue(image)!, "--image");
            var request = new CreateLeaseRequest
            {
                Image = imageName,
                ImageVersion = imageVersion,
                Resources = new Resources
                {
                    Vcpus = parse.GetValue(cpus),
                    MemoryBytes = Parsing.Size(parse.GetValue(memory)!, "--memory"),
                    DiskBytes = Parsing.Size(parse.GetValue(disk)!, "--disk"),
                },
                Duration = Duration.FromTimeSpan(Parsing.Duration(parse.GetValue(duration)!, "--duration")),
                RequestId = parse.GetValue(requestId) ?? string.Empty,
                Network = networkName ?? string.Empty,
                SshKeys = { keys },
                DataDiskBytes = { (parse.GetValue(dataDisks) ?? []).Select(d => Parsing.Size(d, "--data-disk")) },
                DiskLimits = parse.GetValue(iops) == 0 && parse.GetValue(diskBandwidth) is null ? null : new DiskLimits
                {
                    TotalIops = parse.GetValue(iops),
                    TotalBytesPerSecond = parse.GetValue(diskBandwidth) is { } bandwidth ? Parsing.Size(bandwidth, "--disk-bandwidth") : 0,
                },
                Limits = new WorkspaceLimits
                {
                    CpuWeight = parse.GetValue(cpuWeight),
                    CpuCapPercent = parse.GetValue(cpuCap),
                    MemoryHardLimitBytes = parse.GetValue(memoryLimit) is { } hardLimit ? Parsing.Size(hardLimit, "--memory-limit") : 0,
                    NicInboundBytesPerSecond = parse.GetValue(nicInbound) is { } inbound ? Parsing.Size(inbound, "--nic-inbound") : 0,
                    NicOutboundBytesPerSecond = parse.GetValue(nicOutbound) is { } outbound ? Parsing.Size(outbound, "--nic-outbound") : 0,
                },
                Placement = placement.Constraints(parse),
                DryRun = parse.GetValue(placement.DryRun),
            };
            kind.Apply(parse, request);
            var limit = Parsing.Duration(parse.GetValue(waitLimit)!, "--wait-limit");
            var workspaces = parse.GetValue(count);
            if (workspaces is 0 or > LeaseGroups.MaxCount)
            {
                throw new UsageException($"--count {workspaces} is not between 1 and {LeaseGroups.MaxCount}; give how many workspaces the group has, e.g. --count 4");
            }

            if (workspaces > 1)
            {
                await LeaseGroups.LeaseAsync(context, request, workspaces, !parse.GetValue(noWait), limit);
                return;
            }

            var lease = await new LeaseServiceClient(context.Channel).CreateLeaseAsync(request, context.Call);
            if (request.DryRun)
            {
                context.Write(lease, () => LeasePlacement.Render(lease) + "\n");
                if (lease.HostId.Length == 0)
                {
                    throw new RpcException(StatusCode.FailedPrecondition, "no host can take the lease now; see the reasons above");
                }

                return;
            }

            // A reservation is settled once admitted: it runs at its start, which may be months away.
            if (!parse.GetValue(noWait) && request.Kind != LeaseKind.Reservation && !LeaseGroups.IsSettled(lease, LeaseState.Running))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, l => LeaseGroups.IsSettled(l, LeaseState.Running), limit);
            }

            context.Write(lease, () => LeaseView.Render(lease, user));
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
        var group = new Option<string?>("--group") { Description = "Only the leases of this group (made by `ws lease --count`)." };
        var command = new Command("list", "List leases and where their workspaces run.") { all, group };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            // A page at a time (the scheduler sends at most 1,000 leases per answer), shown as one list.
            var client = new LeaseServiceClient(context.Channel);
            var response = new ListLeasesResponse();
            var token = string.Empty;
            do
            {
                var page = await client.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = parse.GetValue(all), Group = parse.GetValue(group) ?? string.Empty, PageSize = 1000, PageToken = token }, context.Call);
                response.Leases.Add(page.Leases);
                token = page.NextPageToken;
            }
            while (token.Length > 0);

            context.Write(response, () => LeaseView.RenderList(response.Leases));
        }, token));
        return command;
    }

    private static ManualCommand ShowCommand(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease, as `ws list` shows it." };
        var sshUser = SshUserOption();
        var command = new ManualCommand("show", "Show one lease in full: state, host, resources, times, addresses and the ssh command.", """
            Prints the lease's state and why, its host, power state, resources and times, and for each NIC
            the network, address/prefix, MAC, gateway and DNS servers. While the workspace is placed, it
            also prints the ssh command that reaches it: `ssh USER@ADDRESS` with --ssh-user (the image's
            default user, e.g. debian or root), otherwise `ssh ADDRESS`, which logs in with your local user
            name. An ended lease keeps the address it had, but the address may belong to another workspace
            by now, so no ssh command is printed for it.
            """)
        { id, sshUser };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var user = SshUser(parse.GetValue(sshUser));
            var lease = await new LeaseServiceClient(context.Channel).GetLeaseAsync(new GetLeaseRequest { Id = parse.GetValue(id) }, context.Call);
            context.Write(lease, () => LeaseView.Render(lease, user));
        }, token));
        return command;
    }

    private static ManualCommand ExtendCommand(GlobalOptions options)
    {
        var id = new Argument<string>("LEASE-ID") { Description = "The lease to extend." };
        var longer = new Argument<string?>("DURATION") { Description = "How much longer, e.g. 1h or 2d (or give it as --by).", Arity = ArgumentArity.ZeroOrOne };
        var by = new Option<string?>("--by") { Description = "How much longer, e.g. 1h or 2d." };
        var command = new ManualCommand("extend", "Move a lease's end further out.", """
            `ws extend LEASE-ID 2h` moves the lease's end two hours out, up to a year from its creation. It
            is refused when an advance reservation on the lease's host needs the capacity in the added time:
            the answer names the reservation's start and how far the lease can go instead. A best-effort
            lease still waiting in the queue gets a longer run time instead; a reservation a longer window
            (refused, likewise, if it would run into another one).
            """)
        { id, longer, by };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var (positional, named) = (parse.GetValue(longer), parse.GetValue(by));
            var text = positional is not null && named is not null
                ? throw new UsageException("give how much longer once: either DURATION or --by, e.g. `ws extend LEASE-ID 2h`")
                : positional ?? named ?? throw new UsageException("say how much longer, e.g. `ws extend LEASE-ID 2h`");
            var request = new ExtendLeaseRequest { Id = parse.GetValue(id), By = Duration.FromTimeSpan(Parsing.Duration(text, positional is null ? "--by" : "DURATION")) };
            var lease = await new LeaseServiceClient(context.Channel).ExtendLeaseAsync(request, context.Call);
            context.Write(lease, () => LeaseView.Render(lease));
        }, token));
        return command;
    }

    private static Command ReleaseCommand(GlobalOptions options)
    {
        var ids = new Argument<string[]>("LEASE-ID") { Description = "The leases to end.", Arity = ArgumentArity.ZeroOrMore };
        var noWait = new Option<bool>("--no-wait") { Description = "Return at once instead of waiting until the workspaces are removed." };
        var group = new Option<string?>("--group") { Description = "End every live lease of this group (made by `ws lease --count`)." };
        var command = new Command("release", "End leases now: their workspaces are stopped and removed from their hosts.") { ids, noWait, group };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var given = parse.GetValue(ids) ?? [];
            if (given.Length == 0 && parse.GetValue(group) is null)
            {
                throw new UsageException("say which lease to end: `ws release LEASE-ID`, or every lease of a group: `ws release --group GROUP`");
            }

            if (given.Length > 1 || parse.GetValue(group) is not null)
            {
                await LeaseGroups.ReleaseAsync(context, given, parse.GetValue(group), !parse.GetValue(noWait));
                return;
            }

            var lease = await new LeaseServiceClient(context.Channel).ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = given[0] }, context.Call);
            if (!parse.GetValue(noWait) && !LeaseGroups.IsSettled(lease, LeaseState.Ended))
            {
                lease = await LeaseFollower.FollowAsync(context, lease, l => LeaseGroups.IsSettled(l, LeaseState.Ended), TimeSpan.FromMinutes(5));
            }

            context.Write(lease, () => LeaseView.Render(lease));
        }, token));
        return command;
    }

    private static Option<string?> SshUserOption() => new("--ssh-user")
    {
        Description = "The user to log in as in the printed ssh command: the image's default user (e.g. debian, ubuntu, root). Default: none, so ssh uses your local user name.",
    };

    private static string? SshUser(string? user) =>
        user is null || (user.Length is > 0 and <= 32 && (char.IsAsciiLetterLower(user[0]) || user[0] == '_') &&
                         user.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
            ? user
            : throw new UsageException($"--ssh-user '{NodeAgent.Contract.IdSyntax.Printable(user)}' is not a user name; use lower-case letters, digits, '_' and '-', e.g. debian");
}
