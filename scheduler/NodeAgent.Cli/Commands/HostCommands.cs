using System.CommandLine;
using System.Globalization;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws hosts list|show|disable|enable|drain</c> (also <c>ws host</c>): hosts as the scheduler sees them, and their admin states.</summary>
public static class HostCommands
{
    public static Command Create(GlobalOptions options, TimeProvider? time = null)
    {
        var list = new Command("list", "List every registered host with its health, admin state, capacity and measured load.");
        list.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            // A page at a time (the scheduler sends at most 5,000 hosts per answer), shown as one list.
            var client = new HostServiceClient(context.Channel);
            var response = new ListHostsResponse();
            var next = string.Empty;
            do
            {
                var page = await client.ListHostsAsync(new ListHostsRequest { PageSize = 5000, PageToken = next }, context.Call);
                response.Hosts.Add(page.Hosts);
                next = page.NextPageToken;
            }
            while (next.Length > 0);

            context.Write(response, () => Render(response.Hosts));
        }, token));

        var id = new Argument<string>("HOST-ID") { Description = "The host's id, as `ws hosts list` shows it." };
        var show = new Command("show", "Show one host in full, with its admin state, who set it and why.") { id };
        show.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var host = await new HostServiceClient(context.Channel).GetHostAsync(new GetHostRequest { HostId = parse.GetValue(id) }, context.Call);
            context.Write(host, () => RenderOne(host));
        }, token));

        var hosts = new Command("hosts", "Hosts the scheduler knows: capacity, load, health and admin state; disable, enable and drain them.") { list, show };
        hosts.Aliases.Add("host");
        foreach (var command in HostAdminCommands.Create(options, time ?? TimeProvider.System))
        {
            hosts.Subcommands.Add(command);
        }

        return hosts;
    }

    internal static string Render(IEnumerable<Host> hosts)
    {
        var table = new Table("HOST", "HEALTH", "ADMIN", "VCPUS", "MEMORY", "CPU USED", "MEM FREE", "LAST HEARTBEAT");
        var now = DateTimeOffset.UtcNow;
        foreach (var h in hosts)
        {
            table.Add(
                h.Info.HostId,
                Health(h.Health),
                Admin(h.AdminState),
                h.Info.Capacity.Vcpus.ToString(CultureInfo.InvariantCulture),
                Units.Bytes(h.Info.Capacity.MemoryBytes),
                $"{h.Load.CpuUtilization:P0}",
                Units.Bytes(h.Load.MemoryAvailableBytes),
                h.LastHeartbeatAt is null ? "never" : Units.Ago(now - h.LastHeartbeatAt.ToDateTimeOffset()));
        }

        return table.ToString();
    }

    internal static string RenderOne(Host h)
    {
        var labels = string.Join(", ", h.Info.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        return $"""
            Host:            {h.Info.HostId} ({h.Info.Hostname})
            Health:          {Health(h.Health)}{(h.HealthReason.Length > 0 ? " — " + h.HealthReason : string.Empty)}
            Admin:           {AdminLine(h)}
            {AdminDetails(h)}Hypervisor:      {h.Info.DomainType} on {h.Info.Architecture}, agent {h.Info.AgentVersion}
            Capacity:        {h.Info.Capacity.Vcpus} vCPUs, {Units.Bytes(h.Info.Capacity.MemoryBytes)} memory, {Units.Bytes(h.Info.Capacity.DiskBytes)} disk
            Allocated:       {h.Allocated?.Vcpus ?? 0} vCPUs, {Units.Bytes(h.Allocated?.MemoryBytes ?? 0)} memory
            Foreign:         {h.Load.Foreign?.Vcpus ?? 0} vCPUs, {Units.Bytes(h.Load.Foreign?.MemoryBytes ?? 0)} memory (domains NodeAgent did not create)
            Load:            CPU {h.Load.CpuUtilization:P0}, {Units.Bytes(h.Load.MemoryAvailableBytes)} memory free, load average {h.Load.LoadAverage1M:0.00}
            Labels:          {(labels.Length == 0 ? "-" : labels)}
            Features:        {(h.Info.Features.Count == 0 ? "-" : string.Join(", ", h.Info.Features))}
            Networks:        {(h.Info.Networks.Count == 0 ? "- (its agent announces no bridge)" : string.Join(", ", h.Info.Networks))}
            Registered:      {h.RegisteredAt?.ToDateTimeOffset():u}
            Last heartbeat:  {h.LastHeartbeatAt?.ToDateTimeOffset():u}

            """;
    }

    /// <summary>"drain-failed — 2 leases still hold capacity …": the state and, when there is one, its reason.</summary>
    private static string AdminLine(Host h) => Admin(h.AdminState) + (h.AdminReason.Length > 0 ? " — " + h.AdminReason : string.Empty);

    /// <summary>The lines under "Admin:": since when and by whom, and the drain's deadline when there is one.</summary>
    private static string AdminDetails(Host h)
    {
        var since = h.AdminSince?.ToDateTimeOffset() is { } at && at > DateTimeOffset.UnixEpoch ? at.ToString("u", CultureInfo.InvariantCulture) : "registration";
        var by = h.AdminChangedBy.Length > 0 ? ", by " + h.AdminChangedBy : string.Empty;
        var lines = $"Admin since:     {since}{by}\n";
        if (h.DrainDeadline is { } deadline)
        {
            lines += $"Drain deadline:  {deadline.ToDateTimeOffset():u}\n";
        }

        return lines;
    }

    /// <summary>Health as people read it: a down host is "unreachable" (no heartbeat within the TTL).</summary>
    internal static string Health(HostHealth health) => health switch
    {
        HostHealth.Up => "up",
        HostHealth.Down => "unreachable",
        HostHealth.Degraded => "degraded",
        _ => "unknown",
    };

    internal static string Admin(HostAdminState state) => state switch
    {
        HostAdminState.Enabled => "enabled",
        HostAdminState.Disabled => "disabled",
        HostAdminState.Draining => "draining",
        HostAdminState.Drained => "drained",
        HostAdminState.DrainFailed => "drain-failed",
        _ => "unknown",
    };
}
